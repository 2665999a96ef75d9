// Per-key DICOMweb scopes (`sources=`) and the audit line of every request made to a source: a key reaches only
// the sources its sources= names (every one with *, none without the option), every refusal comes before the
// first request leaves, and each request to a source is an audit line holding keyed hashes of its UIDs, never the
// UIDs. Against a loopback PACS of this test, the demo model and real HTTP.
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { capturedLogger, loadRegistry, ROOT, testConfig } from '../helpers/common.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';

const STUDY = '1.2.826.0.1.3680043.8.498.4242';
const SERIES = `${STUDY}.1`;
const INSTANCES = [`${SERIES}.1`, `${SERIES}.2`];
const single = imageDicom(ct());

/** Every request either source received, by path. */
const received: string[] = [];
const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = req.url ?? '';
  received.push(path);
  if (path.includes('/instances?')) {
    const listing = INSTANCES.map((uid, i) => ({ '00080018': { vr: 'UI', Value: [uid] }, '00200013': { vr: 'IS', Value: [i + 1] } }));
    return res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(JSON.stringify(listing));
  }
  const instance = path.split('/instances/')[1] ?? '';
  if (INSTANCES.includes(instance)) return res.writeHead(200, { 'content-type': 'application/dicom' }).end(single);
  return res.writeHead(404).end();
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
const run = promisify(execFile);
const SOURCES = JSON.stringify({ pacs: { url: `${base}/pacs` }, archive: { url: `${base}/archive` } });

const dir = mkdtempSync(join(tmpdir(), 'unimed-access-'));
const auditFile = join(dir, 'audit.jsonl');
const HASH_SECRET = 'access-test-hash-secret-0123456789';
writeFileSync(join(dir, 'hash-secret'), `${HASH_SECRET}\n`);
const KEYS = {
  wide: 'wide-key-0123456789abcdef',
  pacsOnly: 'pacs-only-key-0123456789abcdef',
  none: 'no-sources-key-0123456789abcdef',
  archive: 'archive-key-0123456789abcdef',
};
const { logger, lines: serviceLines } = capturedLogger('trace');
const { registry, metrics, config } = await loadRegistry(
  {
    API_KEYS: [
      `wide:${KEYS.wide} sources=*`,
      `pacs-only:${KEYS.pacsOnly} sources=pacs`,
      `none:${KEYS.none}`,
      `archive:${KEYS.archive} sources=archive`,
    ].join(','),
    DICOMWEB_SOURCES: SOURCES,
    AUDIT_LOG: auditFile,
    AUDIT_HASH_SECRET_FILE: join(dir, 'hash-secret'),
  },
  { logger },
);
const app = await buildApp({ config, metrics, registry, logger });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await registry.close();
  await new Promise((resolve) => pacs.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const hmac = (value: string): string => createHmac('sha256', HASH_SECRET).update(value).digest('hex');
const instanceRef = (source: string, instance = INSTANCES[0]!) => ({ dicomweb: { source, study: STUDY, series: SERIES, instance } });
const seriesRef = (source: string) => ({ dicomweb: { source, study: STUDY, series: SERIES } });
const post = (key: string, path: string, body: unknown) =>
  fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
async function answer(res: Response): Promise<{ status: number; code: string | undefined; message: string }> {
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, code: body.error?.code, message: body.error?.message ?? '' };
}
/** The audit lines written about requests to a source, after the `from`-th line of the file. */
function sourceLines(from: number): Record<string, unknown>[] {
  return readFileSync(auditFile, 'utf8')
    .split('\n')
    .slice(from)
    .filter((line) => line.includes('"event":"dicomweb"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
const lineCount = (): number => readFileSync(auditFile, 'utf8').split('\n').length - 1;

const ROUTES: [string, (source: string) => unknown][] = [
  ['/classify', (s) => ({ image: instanceRef(s), labels: ['ct', 'mri'] })],
  ['/embed/image', (s) => ({ images: [instanceRef(s)] })],
  ['/preview', (s) => ({ image: instanceRef(s) })],
  ['/classify/series', (s) => ({ ...seriesRef(s), labels: ['ct', 'mri'] })],
  ['/embed/series', (s) => seriesRef(s)],
];

t.test('a key without sources= reaches no source, on every route that retrieves, before any request leaves', async (t) => {
  received.length = 0;
  for (const [path, body] of ROUTES) {
    const refused = await answer(await post(KEYS.none, path, body('pacs')));
    t.same([refused.status, refused.code], [403, 'forbidden'], `${path}: 403`);
    t.match(refused.message, /sources=/, 'the message says which option decides');
  }
  t.same(received, [], 'the PACS was never contacted');
});

t.test('a key reaches the sources its sources= names, and no other; unknown and unlisted names read alike', async (t) => {
  received.length = 0;
  for (const [path, body] of ROUTES) {
    const refused = await answer(await post(KEYS.archive, path, body('pacs')));
    t.same([refused.status, refused.code], [403, 'forbidden'], `${path}: pacs is not archive's`);
    const ok = await post(KEYS.pacsOnly, path, body('pacs'));
    t.equal(ok.status, 200, `${path}: pacs-only reaches pacs`);
    await ok.arrayBuffer();
  }
  const unknown = await answer(await post(KEYS.archive, '/embed/image', { images: [instanceRef('nowhere')] }));
  t.same([unknown.status, unknown.code], [403, 'forbidden'], 'a name that is not configured is refused like one that is');
  t.notMatch(unknown.message, /pacs|archive/, 'and no configured name is listed');
  const wide = await answer(await post(KEYS.wide, '/embed/image', { images: [instanceRef('nowhere')] }));
  t.same([wide.status, wide.code], [400, 'bad_request'], 'sources=*: an unknown name is a 400');
  t.ok(
    received.every((path) => path.startsWith('/pacs/')),
    'only pacs was contacted',
  );
});

t.test('one forbidden reference among allowed ones: refused before the first is fetched', async (t) => {
  received.length = 0;
  const mixed = { images: [instanceRef('pacs'), instanceRef('archive', INSTANCES[1])] };
  const refused = await answer(await post(KEYS.pacsOnly, '/embed/image', mixed));
  t.same([refused.status, refused.code], [403, 'forbidden']);
  t.same(received, [], 'nothing was fetched');
  const both = await post(KEYS.wide, '/embed/image', mixed);
  t.equal(both.status, 200, 'sources=* reaches both');
  await both.arrayBuffer();
  t.same(received.length, 2);
});

t.test('every request to a source is an audit line with keyed hashes of its UIDs, never the UIDs', async (t) => {
  const from = lineCount();
  const res = await post(KEYS.pacsOnly, '/classify/series', { ...seriesRef('pacs'), labels: ['ct', 'mri'] });
  t.equal(res.status, 200);
  const requestId = res.headers.get('x-server-request-id');
  await res.arrayBuffer();
  const lines = sourceLines(from);
  t.equal(lines.length, 1 + INSTANCES.length, 'the listing and each instance retrieved');
  const [listing, ...retrievals] = lines;
  const common = {
    event: 'dicomweb',
    log: 'audit',
    request_id: requestId,
    key_id: 'pacs-only',
    route: '/classify/series',
    source: 'pacs',
    outcome: 'ok',
    study_hmac: hmac(STUDY),
    series_hmac: hmac(SERIES),
  };
  t.match(listing, { ...common, operation: 'list' });
  t.notOk(listing && 'instance_hmac' in listing, 'a listing names no instance');
  t.same(retrievals.map((line) => line.instance_hmac).sort(), INSTANCES.map(hmac).sort(), 'each instance, by its hash');
  for (const line of retrievals) t.match(line, { ...common, operation: 'retrieve' });
  const keyIds = new Set(lines.map((line) => line.hash_key));
  t.equal(keyIds.size, 1, 'one secret made them all');
  t.match([...keyIds][0], /^[0-9a-f]{16}$/, 'named by a fingerprint');
  t.notOk([...keyIds][0] === HASH_SECRET.slice(0, 16), 'which is not the secret');

  const missing = await post(KEYS.pacsOnly, '/embed/image', { images: [instanceRef('pacs', `${SERIES}.99`)] });
  t.equal(missing.status, 404);
  await missing.arrayBuffer();
  t.match(sourceLines(from).at(-1), { operation: 'retrieve', outcome: 'not_found', instance_hmac: hmac(`${SERIES}.99`) });

  const everything = readFileSync(auditFile, 'utf8') + serviceLines.join('');
  for (const uid of [STUDY, SERIES, ...INSTANCES]) t.notOk(everything.includes(uid), 'no UID in the audit log or the service log');
});

t.test('sources configured and no key may reach them: a warning at start', async (t) => {
  const captured = capturedLogger('info');
  const env = { API_KEYS: `none:${KEYS.none}`, DICOMWEB_SOURCES: SOURCES, AUDIT_LOG: join(dir, 'other.jsonl') };
  const other = await buildApp({ config: testConfig(env), metrics, registry, logger: captured.logger });
  await other.ready();
  await other.close();
  t.ok(
    captured.lines.some((line) => line.includes('no API key may reach them')),
    'the operator is told',
  );
  const fine = capturedLogger('info');
  const scoped = { ...env, API_KEYS: `some:${KEYS.pacsOnly} sources=pacs` };
  const another = await buildApp({ config: testConfig(scoped), metrics, registry, logger: fine.logger });
  await another.ready();
  await another.close();
  t.notOk(
    fine.lines.some((line) => line.includes('no API key may reach them')),
    'not when a key has sources=',
  );
});

t.test('unimed audit-lookup finds every access to a study, across a rotation of the hash secret', async (t) => {
  // Lines made with the secret in force above; then the secret is rotated and the same study is reached again.
  const rotated = join(dir, 'hash-secret-2');
  writeFileSync(rotated, 'the-next-audit-hash-secret-987654321\n');
  const env = {
    API_KEYS: `pacs-only:${KEYS.pacsOnly} sources=pacs`,
    DICOMWEB_SOURCES: SOURCES,
    AUDIT_LOG: auditFile,
    AUDIT_HASH_SECRET_FILE: rotated,
  };
  const after = await buildApp({ config: testConfig(env), metrics, registry, logger });
  t.teardown(() => after.close());
  const afterUrl = await after.listen({ host: '127.0.0.1', port: 0 });
  const res = await fetch(`${afterUrl}/embed/image`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEYS.pacsOnly}`, 'content-type': 'application/json' },
    body: JSON.stringify({ images: [instanceRef('pacs')] }),
  });
  t.equal(res.status, 200);
  await res.arrayBuffer();

  const all = readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.includes('"event":"dicomweb"'));
  const before = all.filter((line) => line.includes(hmac(STUDY))).length;
  t.ok(before > 0, 'lines about the study under the first secret');
  const lookup = (...args: string[]) =>
    run(process.execPath, [join(ROOT, 'packages/cli/bin/unimed.ts'), 'audit-lookup', ...args], { encoding: 'utf8' });
  const both = await lookup('--secret-file', rotated, '--secret-file', join(dir, 'hash-secret'), '--study', STUDY, auditFile);
  const found = both.stdout.trim().split('\n');
  t.equal(found.length, before + 1, 'the new secret and the previous one together find every access');
  t.ok(found.every((line) => line.includes('"event":"dicomweb"')));
  t.equal(new Set(found.map((line) => (JSON.parse(line) as { hash_key: string }).hash_key)).size, 2, 'made by two secrets');
  t.match(both.stderr, /1 with .*hash-secret-2 .*, \d+ with .*hash-secret /, 'counted per secret');
  const newOnly = await lookup('--secret-file', rotated, '--study', STUDY, auditFile);
  t.equal(newOnly.stdout.trim().split('\n').length, 1, 'the new secret alone finds only what was written after the rotation');
  const instance = await lookup('--secret-file', rotated, '--instance', INSTANCES[0]!, auditFile);
  t.equal(instance.stdout.trim().split('\n').length, 1, 'by instance too');
  const printed = await lookup('--secret-file', join(dir, 'hash-secret'), '--study', STUDY, '--print-hash');
  t.match(printed.stdout, new RegExp(`^${hmac(STUDY)}\\t[0-9a-f]{16}\\t`), '--print-hash prints the hash the lines carry');
  await t.rejects(lookup('--study', STUDY, auditFile), { code: 2 }, 'no secret: a usage error');
});
