// The audit log (AUDIT_LOG, a file here): one JSON line per request with who, what and how it ended; and marker
// strings sent through every input path, error paths included (JSON, invalid JSON, multipart field values, file
// names and field names, query strings, DICOM attributes, labels, templates, keys, bad keys, origins) appear in
// no line of the audit log nor of the service log, both captured at trace level.
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../../../src/app.ts';
import { imageElements, part10 } from '../../fixtures/dicom/writer.ts';
import { mono8 } from '../../fixtures/dicom/images.ts';
import type { Element } from '../../fixtures/dicom/writer.ts';
import { loadConfig } from '../../../src/config.ts';
import { capturedLogger, DEMO, loadRegistry, ROOT, until } from '../../helpers/common.ts';

const MARK = 'Qzmarker';
const KEY = `auditor-${MARK}-key-0123456789`;
const UID = '1.2.826.0.1.3680043.8.498.777999111333555';
const { logger, lines: serviceLines } = capturedLogger('trace');
const dir = mkdtempSync(join(tmpdir(), 'unimed-audit-'));
const auditFile = join(dir, 'logs', 'audit.jsonl');
const HASH_SECRET = 'audit-hash-secret-0123456789';
writeFileSync(join(dir, 'hash-secret'), `${HASH_SECRET}\n`);
// A caller's X-Request-Id holding what a client may well put there: a patient's record number.
const CALLER_ID = `MRN-${MARK}-4711`;
const { registry, metrics, config } = await loadRegistry(
  {
    API_KEYS: `auditor:${KEY} models=unimed-demo`,
    AUDIT_LOG: auditFile,
    AUDIT_HASH_SECRET_FILE: join(dir, 'hash-secret'),
    MAX_CHARS_PER_TEXT: '300',
  },
  { logger },
);
const app = await buildApp({ config, metrics, registry, logger });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await registry.close();
  rmSync(dir, { recursive: true, force: true });
});

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const auth = { authorization: `Bearer ${KEY}` };
const json = (body: unknown) => ({
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const form = (parts: [string, string | Buffer, string?][]): RequestInit => {
  const data = new FormData();
  for (const [name, value, filename] of parts) {
    if (typeof value === 'string') data.append(name, value);
    else data.append(name, new Blob([new Uint8Array(value)], { type: 'application/octet-stream' }), filename ?? 'x.bin');
  }
  return { method: 'POST', headers: auth, body: data };
};
const raw = (type: string, bytes: Buffer): RequestInit => ({
  method: 'POST',
  headers: { ...auth, 'content-type': type },
  body: new Uint8Array(bytes),
});

const withMarks: Element[] = [
  [0x00080080, 'LO', `${MARK} Institution`],
  [0x00081030, 'LO', `${MARK} study description`],
  [0x0020000d, 'UI', UID],
  [0x00100030, 'DA', '19610417'],
];
const elements = imageElements(mono8(withMarks)).map((e): Element => {
  if (e[0] === 0x00100010) return [e[0], e[1], `${MARK}^Patient`];
  if (e[0] === 0x00100020) return [e[0], e[1], `${MARK}-ID`];
  return e;
});
const dicom = part10(elements);
const truncated = dicom.subarray(0, dicom.length - 1000);

interface Sent {
  path: string;
  init: RequestInit;
  status: number;
}
const sent: Sent[] = [
  { path: '/embed/text', init: json({ texts: [`history of ${MARK}`] }), status: 200 },
  { path: '/embed/text', init: json(`{"texts": ["${MARK}" oops`), status: 400 },
  { path: '/embed/text', init: json({ texts: [MARK], [MARK]: MARK }), status: 400 },
  { path: '/embed/text', init: json({ texts: [`${MARK} `.repeat(80)] }), status: 413 },
  { path: '/embed/text', init: json({ texts: ['x'], model: MARK }), status: 404 },
  {
    path: '/classify',
    init: json({ image: png.toString('base64'), labels: [MARK, `${MARK} 2`], templates: [`a ${MARK} of {}`] }),
    status: 200,
  },
  {
    path: '/classify',
    init: json({ image: png.toString('base64'), labels: [MARK, 'x'], templates: [`no placeholder ${MARK}`] }),
    status: 400,
  },
  { path: '/classify', init: json({ image: png.toString('base64'), prompt_set: MARK }), status: 404 },
  {
    path: '/classify',
    init: form([
      ['image', png, `${MARK}.png`],
      ['labels', MARK],
      ['labels', `${MARK} b`],
      ['templates', `${MARK} {}`],
    ]),
    status: 200,
  },
  {
    path: '/classify',
    init: form([
      ['image', png, `${MARK}.png`],
      [MARK, MARK],
    ]),
    status: 400,
  },
  {
    path: '/embed/image',
    init: form([
      ['image', png, `${MARK}.png`],
      ['model', MARK],
    ]),
    status: 404,
  },
  { path: '/embed/image', init: raw('application/dicom', dicom), status: 200 },
  { path: '/preview', init: raw('application/dicom', dicom), status: 200 },
  { path: '/embed/image', init: raw('application/dicom', truncated), status: 422 },
  {
    path: '/classify',
    init: form([
      ['image', dicom, `${MARK}.dcm`],
      ['labels', MARK],
      ['labels', 'x'],
    ]),
    status: 200,
  },
  { path: `/embed/image?window=${MARK}`, init: raw('image/png', png), status: 400 },
  {
    path: '/embed/text',
    init: { ...json({ texts: ['x'] }), headers: { 'content-type': 'application/json', authorization: `Bearer ${MARK}-wrong-key-0123` } },
    status: 401,
  },
  {
    path: '/embed/text',
    init: { ...json({ texts: ['x'] }), headers: { 'content-type': 'application/json', origin: `https://${MARK}.example` } },
    status: 403,
  },
  { path: `/${MARK}`, init: { headers: auth }, status: 404 },
  { path: '/healthz', init: {}, status: 200 },
  { path: '/models', init: { headers: { ...auth, 'x-request-id': CALLER_ID } }, status: 200 },
];

const answers: { id: string; status: number }[] = [];
let audit: Record<string, unknown>[] = [];

function readAudit(): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(auditFile, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

t.test('every input path, success and error, answers as expected', async (t) => {
  const before = readAudit().length;
  for (const { path, init, status } of sent) {
    const res = await fetch(url + path, init);
    await res.arrayBuffer();
    t.equal(res.status, status, `${init.method ?? 'GET'} ${path.slice(0, 40)}: ${status}`);
    answers.push({ id: res.headers.get('x-server-request-id') ?? '', status: res.status });
  }
  audit = await until('an audit line for every request', () => {
    const lines = readAudit().slice(before);
    return lines.length >= sent.length ? lines : undefined;
  });
});

t.test('one audit line per request: who, what, how it ended, never the key', (t) => {
  t.equal(audit.length, sent.length, 'exactly one line each');
  const byId = new Map(audit.map((line) => [line.request_id, line]));
  for (const [i, answer] of answers.entries()) {
    const line = byId.get(answer.id);
    t.ok(line, `request ${i} has its line (request_id)`);
    t.equal(line?.status, answer.status, `request ${i}: status`);
    t.equal(line?.log, 'audit');
  }
  const first = byId.get(answers[0]!.id)!;
  t.equal(first.key_id, 'auditor', 'key_id: the key id');
  t.equal(first.route, '/embed/text');
  t.equal(first.method, 'POST');
  t.same(first.model, { id: 'unimed-demo', sha256: registry.get().sha256 }, 'model id and sha256');
  t.equal(first.bytes_in, Buffer.byteLength(sent[0]!.init.body as string), 'bytes_in: the body');
  t.ok((first.bytes_out as number) > 100, 'bytes_out: the answer');
  t.ok((first.timings as { total_ms: number }).total_ms > 0, 'timings');
  const badKey = byId.get(answers[16]!.id)!;
  t.equal(badKey.key_id, null, 'a refused key: no key id');
  t.equal(badKey.status, 401);
  t.equal(byId.get(answers[18]!.id)!.route, 'unmatched', 'an unknown path: route "unmatched", not the path');
  t.equal(byId.get(answers[19]!.id)!.model, null, 'no model for /healthz');
  t.equal(first.caller_request_id_hmac, null, 'no caller id, no hash');
  t.equal(first.client_address, '127.0.0.1', "client_address: the connection's peer");
  t.equal(byId.get(answers[16]!.id)!.client_address, '127.0.0.1', 'on a refused key too');
  const hmac = createHmac('sha256', HASH_SECRET).update(CALLER_ID).digest('hex');
  t.equal(byId.get(answers[20]!.id)!.caller_request_id_hmac, hmac, "the caller's id as HMAC-SHA256 with the secret file's key");
  t.end();
});

t.test('no marker, key, UID or patient attribute in any log line', (t) => {
  const lines = [...serviceLines, ...readAudit().map((l) => JSON.stringify(l))];
  t.ok(serviceLines.length >= sent.length, `${serviceLines.length} service log lines captured`);
  for (const secret of [MARK, KEY, UID, '19610417']) {
    const found = lines.filter((line) => line.toLowerCase().includes(secret.toLowerCase()));
    t.same(found, [], `"${secret}" appears in no log line`);
  }
  t.end();
});

t.test('the audit file is created readable by its owner only', (t) => {
  t.equal(statSync(auditFile).mode & 0o777, 0o600);
  t.end();
});

t.test("a malformed DICOM's 422 names no library internals", async (t) => {
  const res = await fetch(url + '/embed/image', raw('application/dicom', dicom.subarray(0, 300)));
  const body = (await res.json()) as { error: { code: string; message: string } };
  t.equal(res.status, 422);
  t.match(body.error.message, /^malformed or truncated DICOM/);
  t.notMatch(body.error.message, /dicomParser|parseDicom|readFixedString/, 'no parser function names');
});

t.test("the caller's X-Request-Id is echoed; the service's own id comes in X-Server-Request-Id", async (t) => {
  const res = await fetch(url + '/healthz', { headers: { 'x-request-id': CALLER_ID } });
  await res.arrayBuffer();
  t.equal(res.headers.get('x-request-id'), CALLER_ID, 'echoed as documented');
  const own = res.headers.get('x-server-request-id') ?? '';
  t.match(own, /^[0-9a-f-]{36}$/, "the service's id, a UUID");
  const line = await until('its audit line', () => readAudit().find((l) => l.request_id === own));
  t.equal(line.caller_request_id_hmac, createHmac('sha256', HASH_SECRET).update(CALLER_ID).digest('hex'));
  t.ok(
    serviceLines.some((l) => l.includes(own)),
    "the service log names the request by the service's id",
  );
});

t.test('AUDIT_HASH_SECRET_FILE: 16 characters at least; unset, a key of the process alone', (t) => {
  const short = join(dir, 'short-secret');
  writeFileSync(short, 'too-short\n');
  t.throws(() => loadConfig({ AUDIT_HASH_SECRET_FILE: short }, ROOT), /AUDIT_HASH_SECRET_FILE \S+ holds fewer than 16 characters/);
  t.throws(() => loadConfig({ AUDIT_HASH_SECRET_FILE: join(dir, 'missing') }, ROOT), /AUDIT_HASH_SECRET_FILE \S+ cannot be read/);
  const a = loadConfig({}, ROOT).security.auditHash;
  const b = loadConfig({}, ROOT).security.auditHash;
  t.equal(a.fromFile, false);
  t.notOk(a.key.equals(b.key), 'a new random key each time');
  t.notOk(
    JSON.stringify(loadConfig({ AUDIT_HASH_SECRET_FILE: join(dir, 'hash-secret') }, ROOT)).includes(HASH_SECRET),
    'the configuration prints no secret',
  );
  t.end();
});
