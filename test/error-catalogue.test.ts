// The error catalogue (src/error-catalogue.ts) is the one vocabulary of error codes: openapi.yaml documents each
// code under the status it is answered with and no other code; each entry's named test produces and asserts it;
// every code is used in src/; and no layer below src/http/ makes up an HTTP status of its own.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { ERROR_CATALOGUE, type ErrorCode } from '../src/error-catalogue.ts';
import { ROOT } from './helpers/common.ts';

type Json = Record<string, unknown>;
const CODES = Object.keys(ERROR_CATALOGUE) as ErrorCode[];
const document = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as Json;
const components = (document.components as Json).responses as Record<string, Json>;

/** The code enum of a response object: its application/json schema's `error.code` enum. */
function codeEnum(response: Json): string[] {
  const schema = ((response.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema as Json | undefined;
  const parts = (schema?.allOf as Json[] | undefined) ?? (schema === undefined ? [] : [schema]);
  return parts.flatMap((part) => {
    const code = (((part.properties as Json | undefined)?.error as Json | undefined)?.properties as Json | undefined)?.code as
      Json | undefined;
    return (code?.enum as string[] | undefined) ?? [];
  });
}

/** Status -> the codes openapi.yaml documents for it, over every operation. */
function documentedCodes(): Map<number, Set<string>> {
  const byStatus = new Map<number, Set<string>>();
  for (const item of Object.values(document.paths as Record<string, Json>)) {
    for (const operation of Object.values(item)) {
      const responses = (operation as Json | null)?.responses as Record<string, Json> | undefined;
      for (const [status, response] of Object.entries(responses ?? {})) {
        const ref = response.$ref as string | undefined;
        const resolved = ref === undefined ? response : components[ref.replace('#/components/responses/', '')]!;
        const codes = byStatus.get(Number(status)) ?? new Set<string>();
        for (const code of codeEnum(resolved)) codes.add(code);
        byStatus.set(Number(status), codes);
      }
    }
  }
  return byStatus;
}

t.test('openapi.yaml documents every code under its status, and no code the catalogue lacks', (t) => {
  const documented = documentedCodes();
  for (const code of CODES) {
    const { status } = ERROR_CATALOGUE[code];
    const answered = !('answered' in ERROR_CATALOGUE[code]);
    t.equal(documented.get(status)?.has(code) ?? false, answered, `${code}: ${answered ? '' : 'not '}documented under ${status}`);
  }
  for (const [status, codes] of documented) {
    for (const code of codes) {
      t.ok(code in ERROR_CATALOGUE, `openapi.yaml's ${status} code ${code} is in the catalogue`);
      if (code in ERROR_CATALOGUE) t.equal(ERROR_CATALOGUE[code as ErrorCode].status, status, `${code} is answered with ${status}`);
    }
  }
  for (const [name, response] of Object.entries(components))
    for (const code of codeEnum(response)) t.ok(code in ERROR_CATALOGUE, `components.responses.${name}: ${code} is in the catalogue`);
  t.end();
});

t.test("each entry names a test that exists and asserts the code's literal", (t) => {
  for (const code of CODES) {
    const file = join(ROOT, ERROR_CATALOGUE[code].test);
    t.ok(existsSync(file), `${code}: ${ERROR_CATALOGUE[code].test} exists`);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    t.ok(text.includes(`'${code}'`) || text.includes(`"${code}"`), `${code}: ${ERROR_CATALOGUE[code].test} names it`);
  }
  t.end();
});

/** Every .ts file under `dir`, as paths relative to the repository root. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

t.test('every catalogue code is used in src/', (t) => {
  const text = sources(join(ROOT, 'src'))
    .filter((file) => file !== 'src/error-catalogue.ts')
    .map((file) => readFileSync(join(ROOT, file), 'utf8'))
    .join('\n');
  for (const code of CODES) t.ok(text.includes(`'${code}'`), `${code} is used`);
  t.end();
});

/** What making up an HTTP status looks like: a status literal, a statusCode set, a reply's code. */
const HTTP_STATUS = [/\bstatusCode\s*[:=]/, /\bstatus:\s*[1-5]\d\d\b/, /new ServiceError\(\s*\d/, /\.code\(\s*\d/];

t.test('below src/http/ no module makes up an HTTP status: the catalogue alone holds them', (t) => {
  const lower = sources(join(ROOT, 'src')).filter(
    (file) => !file.startsWith('src/http/') && !['src/app.ts', 'src/server.ts', 'src/error-catalogue.ts'].includes(file),
  );
  t.ok(lower.length > 50, `${lower.length} modules checked`);
  for (const made of ["new ServiceError(413, 'too_large', message)", 'detail = { statusCode: 422 }', 'reply.code(503).send(body)'])
    t.ok(
      HTTP_STATUS.some((pattern) => pattern.test(made)),
      `the check catches ${made}`,
    );
  const offenders = lower.flatMap((file) =>
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .flatMap((line, i) => (HTTP_STATUS.some((pattern) => pattern.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
  );
  t.same(offenders, []);
  t.end();
});
