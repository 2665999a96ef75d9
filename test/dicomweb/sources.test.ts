// Retrieval from DICOMweb sources, against a loopback HTTP server of this test that answers as a PACS would and
// also misbehaves as Orthanc cannot be made to (redirects, hangs, oversize and malformed answers). The service is
// real (demo model, real HTTP); test/integration/dicomweb-orthanc.test.ts runs against a real Orthanc.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.ts';
import { capturedLogger, cosine, loadRegistry, until } from '../helpers/common.ts';
import { json, type EmbedBody, type ErrorBody } from '../helpers/http.ts';
import { COLUMNS, ct, ctValues, ROWS } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';

const PASSWORD = 'pw-Qx7-never-in-logs';
const STUDY = '1.2.826.0.1.3680043.8.498.77';
const SERIES = `${STUDY}.1`;
const frames = 2;
const multi = imageDicom({
  ...ct(
    [],
    Int16Array.from({ length: frames * ROWS * COLUMNS }, (_, i) => ctValues(Math.floor(i / (ROWS * COLUMNS)))[i % (ROWS * COLUMNS)]!),
  ),
  frames,
});
const single = imageDicom(ct());

const BOUNDARY = 'pacs-boundary-42';
const related = (parts: Buffer[]): Buffer =>
  Buffer.concat([
    ...parts.flatMap((p) => [Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n')]),
    Buffer.from(`--${BOUNDARY}--\r\n`),
  ]);
const RELATED_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

/** What the loopback PACS saw, and answers held open until the test lets them go. */
const seen: { path: string; accept: string | undefined; authorization: string | undefined }[] = [];
const held: ServerResponse[] = [];
let inFlight = 0;
let maxInFlight = 0;
const pacs = createServer((req: IncomingMessage, res: ServerResponse) => {
  const path = req.url ?? '';
  seen.push({ path, accept: req.headers.accept, authorization: req.headers.authorization });
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  res.on('close', () => inFlight--);
  const instance = path.split('/instances/')[1] ?? '';
  if (path.startsWith('/wrong-password/')) return res.writeHead(401, { 'www-authenticate': 'Basic realm="pacs"' }).end();
  if (instance === '1.1') return res.writeHead(200, { 'content-type': RELATED_TYPE }).end(related([single]));
  if (instance === '1.2') return res.writeHead(200, { 'content-type': RELATED_TYPE }).end(related([multi]));
  if (instance === '1.3') return res.writeHead(302, { location: '/dicom-web/elsewhere' }).end();
  if (instance === '1.4') return void held.push(res);
  if (instance === '1.5') return res.writeHead(200, { 'content-type': RELATED_TYPE }).end(Buffer.alloc(300_000));
  if (instance === '1.6') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>');
  if (path.includes('/elsewhere')) return res.writeHead(200, { 'content-type': RELATED_TYPE }).end(related([single]));
  return res.writeHead(404).end();
});
await new Promise<void>((resolve) => pacs.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}`;

const secrets = mkdtempSync(join(tmpdir(), 'unimed-dicomweb-'));
writeFileSync(join(secrets, 'password'), `${PASSWORD}\n`);
writeFileSync(join(secrets, 'wrong'), 'not-it\n');
const auth = (file: string) => ({ type: 'basic', username: 'svc', password_file: join(secrets, file) });
const sources = {
  pacs: { url: `${base}/dicom-web`, auth: auth('password'), timeout_ms: 2_000, concurrency: 1 },
  slow: { url: `${base}/dicom-web`, timeout_ms: 300 },
  locked: { url: `${base}/wrong-password/dicom-web`, auth: auth('wrong') },
};

const { logger, lines } = capturedLogger('trace');
const { registry, metrics, config } = await loadRegistry(
  { DICOMWEB_SOURCES: JSON.stringify(sources), MAX_BODY_BYTES: '200000' },
  { logger },
);
const app = await buildApp({ config, metrics, registry, logger });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  for (const res of held) res.destroy();
  await app.close();
  await registry.close();
  await new Promise((resolve) => pacs.close(resolve));
});

const ref = (source: string, instance: string, frame?: number) => ({
  dicomweb: { source, study: STUDY, series: SERIES, instance, ...(frame === undefined ? {} : { frame }) },
});
const postJson = (path: string, body: unknown) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const upload = async (bytes: Buffer, query = '') =>
  json<EmbedBody>(
    await fetch(`${url}/embed/image${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body: new Uint8Array(bytes),
    }),
  );

async function refused(t: Test, res: Response, status: number, code: string): Promise<ErrorBody> {
  const body = await json(res);
  t.equal(res.status, status, JSON.stringify(body));
  t.equal(body.error.code, code);
  return body;
}

t.test('a referenced instance is retrieved as stored and embeds as its upload does', async (t) => {
  const pulled = await json<EmbedBody>(await postJson('/embed/image', { images: [ref('pacs', '1.1'), ref('pacs', '1.2', 1)] }));
  const [uploaded, frame1] = [await upload(single), await upload(multi, '?frame=1')];
  t.ok(cosine(pulled.embeddings[0]!, uploaded.embeddings[0]!) > 0.999999, 'same embedding as the upload');
  t.ok(
    cosine(pulled.embeddings[1]!, frame1.embeddings[0]!) > 0.999999,
    "frame 1 (0-based) is WADO frame 2, rendered as the upload's frame=1",
  );
  t.same(pulled.preprocessing[1]!.dicom?.frame, 1);
  const request = seen.find((s) => s.path.endsWith('/instances/1.1'))!;
  t.equal(request.path, `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/1.1`);
  t.equal(request.accept, 'multipart/related; type="application/dicom"; transfer-syntax=*');
  t.equal(request.authorization, `Basic ${Buffer.from(`svc:${PASSWORD}`).toString('base64')}`);
});

t.test('in multipart, "dicomweb" form fields hold the references', async (t) => {
  const form = new FormData();
  form.append('dicomweb', JSON.stringify(ref('pacs', '1.1').dicomweb));
  form.append('dicomweb', JSON.stringify(ref('pacs', '1.2', 1).dicomweb));
  const res = await fetch(url + '/embed/image', { method: 'POST', body: form });
  const body = await json<EmbedBody>(res);
  t.equal(res.status, 200);
  t.ok(cosine(body.embeddings[0]!, (await upload(single)).embeddings[0]!) > 0.999999);
  t.ok(cosine(body.embeddings[1]!, (await upload(multi, '?frame=1')).embeddings[0]!) > 0.999999);
  const bad = new FormData();
  bad.append('dicomweb', '{"source": "pacs"');
  bad.append('labels', 'a');
  bad.append('labels', 'b');
  await refused(t, await fetch(url + '/classify', { method: 'POST', body: bad }), 400, 'bad_request');
});

t.test('a multipart/related body (a WADO-RS answer forwarded) is an upload of its instances', async (t) => {
  const res = await fetch(url + '/embed/image', {
    method: 'POST',
    headers: { 'content-type': RELATED_TYPE },
    body: new Uint8Array(related([single, single])),
  });
  const body = await json<EmbedBody>(res);
  t.equal(res.status, 200);
  t.equal(body.embeddings.length, 2);
  t.ok(cosine(body.embeddings[0]!, (await upload(single)).embeddings[0]!) > 0.999999);
});

t.test('failures: each with its status, naming the source and nothing secret', async (t) => {
  const before = seen.length;
  const unknown = await refused(t, await postJson('/classify', { image: ref('nowhere', '1.1'), labels: ['a', 'b'] }), 400, 'bad_request');
  t.match(unknown.error.message, /"nowhere" is not a configured DICOMweb source/);
  t.notMatch(unknown.error.message, /pacs|slow|locked/, 'the configured sources are not listed');
  await refused(
    t,
    await postJson('/embed/image', { images: [{ dicomweb: { source: 'pacs', study: '1.2.x', series: SERIES, instance: '1.1' } }] }),
    400,
    'bad_request',
  );
  await refused(
    t,
    await postJson('/embed/image', { images: [{ dicomweb: { source: 'pacs', study: '1'.repeat(65), series: SERIES, instance: '1.1' } }] }),
    400,
    'bad_request',
  );
  await refused(t, await postJson('/embed/image', { images: [ref('pacs', '1.1', 0)], frame: 0 }), 400, 'bad_request');
  t.equal(seen.length, before, 'no request left for an unknown source or a bad UID');

  await refused(t, await postJson('/embed/image', { images: [ref('pacs', '9.9')] }), 404, 'dicom_not_found');
  const redirect = await refused(t, await postJson('/embed/image', { images: [ref('pacs', '1.3')] }), 502, 'upstream_unavailable');
  t.match(redirect.error.message, /"pacs".*302.*not followed/);
  t.notOk(
    seen.some((s) => s.path.includes('elsewhere')),
    'the redirect was not followed',
  );
  await refused(t, await postJson('/embed/image', { images: [ref('pacs', '1.5')] }), 413, 'too_large');
  await refused(t, await postJson('/embed/image', { images: [ref('pacs', '1.6')] }), 502, 'upstream_unavailable');
  const locked = await refused(t, await postJson('/preview', { image: ref('locked', '1.1') }), 502, 'upstream_unavailable');
  t.match(locked.error.message, /"locked" refused the service's credentials \(HTTP 401\)/);
  const slow = await refused(t, await postJson('/embed/image', { images: [ref('slow', '1.4')] }), 504, 'upstream_timeout');
  t.match(slow.error.message, /"slow" did not answer within its timeout \(300 ms\)/);

  const logs = lines.join('');
  for (const secret of [PASSWORD, 'not-it', Buffer.from(`svc:${PASSWORD}`).toString('base64'), STUDY])
    t.notOk(logs.includes(secret), 'no secret or UID in the logs');
  const text = await metrics.registry.metrics();
  t.match(text, /unimed_dicomweb_requests_total\{source="pacs"\} \d+/);
  t.match(text, /unimed_dicomweb_failures_total\{source="pacs",reason="too_large"\} 1/);
  t.match(text, /unimed_dicomweb_failures_total\{source="locked",reason="refused"\} 1/);
  t.match(text, /unimed_dicomweb_failures_total\{source="slow",reason="timeout"\} 1/);
  t.match(text, /unimed_dicomweb_received_bytes_total\{source="pacs"\} [1-9]/);
  t.match(text, /unimed_dicomweb_request_seconds_count\{source="pacs"\} [1-9]/);
});

t.test('a source takes at most its concurrency; the others wait their turn', async (t) => {
  maxInFlight = 0;
  const heldBefore = held.length;
  const first = postJson('/embed/image', { images: [ref('pacs', '1.4')] });
  await until('the first request to reach the PACS', () => held.length > heldBefore);
  const second = postJson('/embed/image', { images: [ref('pacs', '1.1')] });
  await until('the second request to wait for the source', async () =>
    /unimed_dicomweb_waiting\{source="pacs"\} 1/.test(await metrics.registry.metrics()),
  );
  t.equal(maxInFlight, 1, 'concurrency 1: the second waits');
  held[heldBefore]!.writeHead(200, { 'content-type': RELATED_TYPE }).end(related([single]));
  t.equal((await first).status, 200);
  t.equal((await second).status, 200);
  t.equal(maxInFlight, 1);
});
