/**
 * `unimed audit-lookup`: the lines of unimed-serve audit logs about one study, series, instance or caller request
 * id, found through the keyed hashes the lines carry (the service never writes those values). Reads files only;
 * talks to no service. Several secrets may be given, so that lines written before a rotation of
 * AUDIT_HASH_SECRET_FILE are found with the previous secret.
 */
import { createHmac } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CommandError, UsageError } from './args.ts';

export const AUDIT_LOOKUP_HELP = `Usage: unimed audit-lookup --secret-file FILE [--secret-file FILE...] (--study UID | --series UID |
       --instance UID | --request-id ID) AUDIT_LOG...

Prints the audit lines (JSON, one per line, as written) whose keyed hash matches the value: a study, series or
instance UID reached on a DICOMweb source ("event":"dicomweb" lines: study_hmac, series_hmac, instance_hmac), or
the X-Request-Id a caller sent (caller_request_id_hmac). The service writes these hashes with the secret in its
AUDIT_HASH_SECRET_FILE (HMAC-SHA256); give that file, and after a rotation the previous one too: each line names
the secret that made it (hash_key), and a summary on stderr counts the lines found per secret.

  --secret-file FILE  a hash secret (a trailing newline is not part of it); repeat for previous secrets
  --study UID         lines about this Study Instance UID
  --series UID        lines about this Series Instance UID
  --instance UID      lines about this SOP Instance UID
  --request-id ID     lines of requests that sent this X-Request-Id
  --print-hash        print the value's hash under each secret instead of searching (no AUDIT_LOG needed)
  -h, --help          this help
`;

const FIELDS = { study: 'study_hmac', series: 'series_hmac', instance: 'instance_hmac', 'request-id': 'caller_request_id_hmac' } as const;
type Subject = keyof typeof FIELDS;

function hmac(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value, 'utf8').digest('hex');
}

/** The service's name for a secret (src/http/security/audit-hash.ts): a keyed hash of a fixed text, 16 hex digits. */
function keyId(secret: string): string {
  return hmac(secret, 'unimed-serve audit hash key id').slice(0, 16);
}

function readSecret(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandError(`cannot read --secret-file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '') throw new CommandError(`--secret-file ${file} is empty`);
  return secret;
}

export async function auditLookupCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'secret-file': { type: 'string', multiple: true },
        study: { type: 'string' },
        series: { type: 'string' },
        instance: { type: 'string' },
        'request-id': { type: 'string' },
        'print-hash': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals: files } = parsed;
  if (values.help === true) {
    process.stdout.write(AUDIT_LOOKUP_HELP);
    return 0;
  }
  const subjects = (Object.keys(FIELDS) as Subject[]).filter((name) => values[name] !== undefined);
  const [subject] = subjects;
  if (subject === undefined || subjects.length > 1) throw new UsageError('give exactly one of --study, --series, --instance, --request-id');
  const value = values[subject] as string;
  const secretFiles = values['secret-file'] ?? [];
  if (secretFiles.length === 0) throw new UsageError('--secret-file is required');
  const hashes = new Map(
    secretFiles.map((file) => {
      const secret = readSecret(file);
      return [hmac(secret, value), { file, keyId: keyId(secret), found: 0 }];
    }),
  );
  if (values['print-hash'] === true) {
    for (const [hash, secret] of hashes) process.stdout.write(`${hash}\t${secret.keyId}\t${secret.file}\n`);
    return 0;
  }
  if (files.length === 0) throw new UsageError('name at least one audit log file');
  const field = FIELDS[subject];
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        // Only lines that hold one of the hashes are parsed: a log is large, its matches few.
        if (![...hashes.keys()].some((hash) => line.includes(hash))) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // not an audit line (a shared stdout holds the service log too)
        }
        const match = hashes.get(String(entry[field]));
        if (match === undefined) continue;
        match.found++;
        process.stdout.write(line + '\n');
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CommandError(`cannot read ${file}: ${code ?? (error as Error).message}`);
    }
  }
  const counts = [...hashes.values()].map((s) => `${s.found} with ${s.file} (hash_key ${s.keyId})`);
  process.stderr.write(`unimed audit-lookup: ${counts.join(', ')}\n`);
  return 0;
}
