// Storing a result in a DICOMweb source (STOW-RS), against a loopback node:http server of this test acting as a
// PACS: it keeps the SOP Instance UIDs it holds, answers QIDO-RS from them, and answers each STOW-RS as the source's
// path says (stored, a conflict after another store landed, a duplicate it does not hold, a refusal, an error, a
// hang). DicomwebSources, its client, slots and metrics are the service's own. test/integration/stow-orthanc.test.ts
// stores into a real Orthanc.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { dicomwebConfig } from '../../src/config/dicomweb.ts';
import type { SourceAccess, SourceGrant } from '../../src/dicomweb/access.ts';
import { parseMultipartRelated } from '../../src/dicomweb/multipart-related.ts';
import { DicomwebSources, type SourceCall } from '../../src/dicomweb/sources.ts';
import type { StoredInstance } from '../../src/dicomweb/stow.ts';
import { CancelledError, ServiceError } from '../../src/errors.ts';
import { Metrics } from '../../src/metrics.ts';
import { until } from '../helpers/common.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';

const STUDY = '1.2.826.0.1.3680043.8.498.91';
const SERIES = `${STUDY}.1`;
const PASSWORD = 'pw-stow-never-in-logs';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const DUPLICATE = 0x0111;

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}
const seen: Seen[] = [];
const held = new Set<string>();
const hanging: ServerResponse[] = [];
let inFlight = 0;
let maxInFlight = 0;

const sop = (uid: string, reason?: number) => ({
  '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.88.33'] },
  '00081155': { vr: 'UI', Value: [uid] },
  ...(reason === undefined ? {} : { '00081197': { vr: 'US', Value: [reason] } }),
});
const stowAnswer = (referenced: string[], failed: [string, number][]) =>
  JSON.stringify({
    '00081199': { vr: 'SQ', ...(referenced.length === 0 ? {} : { Value: referenced.map((uid) => sop(uid)) }) },
    '00081198': { vr: 'SQ', ...(failed.length === 0 ? {} : { Value: failed.map(([uid, reason]) => sop(uid, reason)) }) },
  });
const dicomJson = { 'content-type': 'application/dicom+json' };

/** The UID of the one application/dicom part: this PACS reads it from the bytes' first marker, `uid=<UID>;`. */
function storedUid(body: Buffer, contentType: string | undefined): string {
  const [part] = parseMultipartRelated(body, contentType, 2);
  return /uid=([0-9.]+);/.exec(part!.data.toString('latin1'))![1]!;
}

const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const url = new URL(req.url ?? '', 'http://pacs');
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    const mode = url.pathname.split('/')[1];
    if (req.method === 'GET') {
      const uid = url.searchParams.get('SOPInstanceUID') ?? '';
      const listing = held.has(uid) ? [{ '00080018': { vr: 'UI', Value: [uid] } }] : [];
      if (mode === 'qido-down') return res.writeHead(500).end();
      return res.writeHead(200, dicomJson).end(JSON.stringify(listing));
    }
    const uid = storedUid(body, req.headers['content-type']);
    switch (mode) {
      case 'ok':
      case 'qido-down':
        held.add(uid);
        return res.writeHead(200, dicomJson).end(stowAnswer([uid], []));
      case 'conflict': // another store of the same result landed between the check and this one
        held.add(uid);
        return res.writeHead(409, dicomJson).end(stowAnswer([], [[uid, DUPLICATE]]));
      case 'accepted':
        held.add(uid);
        return res.writeHead(202, dicomJson).end(stowAnswer([], [[uid, DUPLICATE]]));
      case 'false-duplicate': // says duplicate, yet does not list it
        return res.writeHead(409, dicomJson).end(stowAnswer([], [[uid, DUPLICATE]]));
      case 'silent': // a 200 that does not list the instance, and does not hold it
        return res.writeHead(200, dicomJson).end(stowAnswer([], []));
      case 'refuse':
        return res.writeHead(400, dicomJson).end(stowAnswer([], [[uid, 0xa900]]));
      case 'down':
        return res.writeHead(503).end();
      case 'locked':
        return res.writeHead(401).end();
      case 'hang':
        return void hanging.push(res);
      default:
        return res.writeHead(404).end();
    }
  });
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;
const closed = createServer();
await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
const closedPort = (closed.address() as AddressInfo).port;
await new Promise((resolve) => closed.close(resolve));
t.teardown(async () => {
  for (const res of hanging) res.destroy();
  await new Promise((resolve) => pacs.close(resolve));
});

const secrets = mkdtempSync(join(tmpdir(), 'unimed-stow-'));
writeFileSync(join(secrets, 'password'), `${PASSWORD}\n`);
const modes = ['ok', 'conflict', 'accepted', 'false-duplicate', 'silent', 'refuse', 'down', 'locked', 'hang', 'qido-down'];
const metrics = new Metrics();
const sources = new DicomwebSources(
  dicomwebConfig(
    {
      DICOMWEB_SOURCES: JSON.stringify({
        ...Object.fromEntries(modes.map((mode) => [mode, { url: `${base}/${mode}/dicom-web`, timeout_ms: 2_000, concurrency: 1 }])),
        ok: {
          url: `${base}/ok/dicom-web`,
          auth: { type: 'basic', username: 'svc', password_file: join(secrets, 'password') },
          concurrency: 1,
        },
        hang: { url: `${base}/hang/dicom-web`, timeout_ms: 300 },
        gone: { url: `http://127.0.0.1:${closedPort}/dicom-web` },
      }),
    },
    process.cwd(),
  ),
  metrics,
);

let next = 0;
/** An instance of its own: bytes holding CRLFs and dashes (a boundary's look-alikes) around the UID marker. */
function instance(): StoredInstance {
  const uid = `${SERIES}.${++next}`;
  const bytes = Buffer.concat([imageDicom(ct()), Buffer.from(`\r\n--\r\n--x--\r\nuid=${uid};`), randomBytes(4096)]);
  return { study: STUDY, series: SERIES, instance: uid, bytes };
}
function grantOf(allowed: 'all' | string[] = 'all'): { grant: SourceGrant; records: SourceAccess[] } {
  const records: SourceAccess[] = [];
  return { grant: { allowed: allowed === 'all' ? 'all' : new Set(allowed), record: (access) => records.push(access) }, records };
}
const call = (grant: SourceGrant, extra: Partial<SourceCall> = {}): SourceCall => ({
  sourceGrant: grant,
  traceHeaders: { traceparent: TRACEPARENT },
  ...extra,
});
async function stores(destination: string, outcome: string): Promise<number> {
  const values = (await metrics.srStores.get()).values;
  return values.find((v) => v.labels.destination === destination && v.labels.outcome === outcome)?.value ?? 0;
}
const sent = (uid: string) => seen.filter((s) => s.query.get('SOPInstanceUID') === uid || s.body.includes(`uid=${uid};`));

async function fails(t: Test, promise: Promise<unknown>, code: string, uid: string): Promise<ServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof ServiceError, `a ServiceError (${String(error)})`);
  t.equal((error as ServiceError).code, code, (error as Error).message);
  t.notOk((error as Error).message.includes(uid), 'no UID in the message');
  t.notOk((error as Error).message.includes(STUDY), 'no study UID in the message');
  return error as ServiceError;
}

t.test('stored: one multipart/related part holding exactly the bytes, after a QIDO-RS check; one store access', async (t) => {
  const item = instance();
  const { grant, records } = grantOf(['ok']);
  t.equal(await sources.storeInstance('ok', item, call(grant)), 'stored');
  const [check, post, ...rest] = sent(item.instance);
  t.same(rest, [], 'two requests');
  t.equal(check!.method, 'GET');
  t.equal(check!.path, `/ok/dicom-web/studies/${STUDY}/series/${SERIES}/instances`);
  t.equal(check!.query.get('SOPInstanceUID'), item.instance);
  t.equal(check!.headers.accept, 'application/dicom+json');
  t.equal(post!.method, 'POST');
  t.equal(post!.path, `/ok/dicom-web/studies/${STUDY}`);
  t.equal(post!.headers.accept, 'application/dicom+json');
  t.match(post!.headers['content-type'], /^multipart\/related; type="application\/dicom"; boundary=unimed-[0-9a-f]{32}$/);
  t.equal(post!.headers['content-length'], String(post!.body.length));
  const parts = parseMultipartRelated(post!.body, post!.headers['content-type'], 10);
  t.equal(parts.length, 1);
  t.equal(parts[0]!.type, 'application/dicom');
  t.ok(parts[0]!.data.equals(item.bytes), 'the part is exactly the bytes sent');
  for (const request of [check!, post!]) {
    t.equal(request.headers.authorization, `Basic ${Buffer.from(`svc:${PASSWORD}`).toString('base64')}`);
    t.equal(request.headers.traceparent, TRACEPARENT);
  }
  t.same(records, [{ source: 'ok', operation: 'store', study: STUDY, series: SERIES, instance: item.instance, outcome: 'ok' }]);
  t.equal(await stores('ok', 'stored'), 1);
});

t.test('already held: the check finds it and nothing is sent again', async (t) => {
  const item = instance();
  const { grant, records } = grantOf();
  t.equal(await sources.storeInstance('ok', item, call(grant)), 'stored');
  t.equal(await sources.storeInstance('ok', item, call(grant)), 'already_stored');
  t.same(
    sent(item.instance).map((s) => s.method),
    ['GET', 'POST', 'GET'],
    'the second store is one QIDO-RS query',
  );
  t.same(
    records.map((r) => [r.operation, r.outcome]),
    [
      ['store', 'ok'],
      ['store', 'ok'],
    ],
  );
  t.equal(await stores('ok', 'already_stored'), 1);
});

t.test('a duplicate or a conflict is success once the PACS lists the instance', async (t) => {
  for (const mode of ['conflict', 'accepted']) {
    const item = instance();
    t.equal(await sources.storeInstance(mode, item, call(grantOf().grant)), 'already_stored', mode);
    t.same(
      sent(item.instance).map((s) => s.method),
      ['GET', 'POST', 'GET'],
      `${mode}: checked, sent, checked again`,
    );
    t.equal(await stores(mode, 'already_stored'), 1);
  }
});

t.test('refusals the PACS does not back by holding the instance: store_refused, not retryable', async (t) => {
  for (const [mode, why] of [
    ['refuse', /HTTP 400, failure reason 0xa900/],
    ['false-duplicate', /HTTP 409, failure reason 0x0111: a duplicate, yet the source does not list it/],
    ['silent', /HTTP 200\)/],
  ] as const) {
    const item = instance();
    const { grant, records } = grantOf();
    const error = await fails(t, sources.storeInstance(mode, item, call(grant)), 'store_refused', item.instance);
    t.match(error.message, why);
    t.same(
      sent(item.instance).map((s) => s.method),
      ['GET', 'POST', 'GET'],
    );
    t.same(
      records.map((r) => r.outcome),
      ['failed'],
    );
    t.equal(await stores(mode, 'failed'), 1);
  }
});

t.test('the source failing: upstream_unavailable or upstream_timeout, which the job runner tries again', async (t) => {
  const cases = [
    ['down', 'upstream_unavailable', /answered HTTP 503/],
    ['locked', 'upstream_unavailable', /refused the service's credentials \(HTTP 401\)/],
    ['qido-down', 'upstream_unavailable', /answered HTTP 500/],
    ['hang', 'upstream_timeout', /did not answer within its timeout \(300 ms\)/],
    ['gone', 'upstream_unavailable', /is unreachable \(ECONNREFUSED\)/],
  ] as const;
  for (const [mode, code, why] of cases) {
    const item = instance();
    const { grant, records } = grantOf();
    const failuresBefore = (await metrics.dicomwebFailures.get()).values.filter((v) => v.labels.source === mode).length;
    const error = await fails(t, sources.storeInstance(mode, item, call(grant)), code, item.instance);
    t.match(error.message, why, mode);
    t.same(
      records.map((r) => r.outcome),
      ['failed'],
    );
    t.equal(await stores(mode, 'failed'), 1, `${mode}: counted as failed`);
    t.ok((await metrics.dicomwebFailures.get()).values.filter((v) => v.labels.source === mode).length > failuresBefore);
  }
});

t.test('a caller that leaves stops the wait', async (t) => {
  const item = instance();
  const abort = new AbortController();
  const pending = sources.storeInstance('hang', item, call(grantOf().grant, { signal: abort.signal })).catch((e: unknown) => e);
  await until('the POST to reach the PACS', () => sent(item.instance).some((s) => s.method === 'POST'), 2_000);
  abort.abort();
  t.ok((await pending) instanceof CancelledError);
});

t.test("a grant without the destination: forbidden, and nothing reaches the PACS; a source's slots bound its stores", async (t) => {
  const before = seen.length;
  const item = instance();
  const { grant, records } = grantOf(['refuse']);
  await fails(t, sources.storeInstance('ok', item, call(grant)), 'forbidden', item.instance);
  await fails(t, sources.storeInstance('ok', { ...item, instance: '1.2.x' }, call(grantOf().grant)), 'bad_request', item.instance);
  t.equal(seen.length, before, 'no request');
  t.same(records, []);
  maxInFlight = 0;
  const outcomes = await Promise.all(
    [instance(), instance(), instance()].map((i) => sources.storeInstance('ok', i, call(grantOf().grant))),
  );
  t.same(outcomes, ['stored', 'stored', 'stored']);
  t.equal(maxInFlight, 1, 'concurrency 1: one request at a time');
});
