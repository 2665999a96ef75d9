// Time bounds on decoding, through real HTTP: a decode waiting for a pixel decoder thread is dropped when its
// client leaves or its deadline passes (as queued inference is), and /preview answers 504 at the request deadline
// even while its decode still runs; the memory that decode reserved comes back when it ends. The decoder threads
// run test/fixtures/workers/hanging-decoder.ts: the real decoder, except that a marked DICOM object hangs for real.
import pino from 'pino';
import t from 'tap';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.ts';
import { PixelDecoder } from '../../src/inputs/decoder/pixel-decoder.ts';
import { Metrics } from '../../src/metrics.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';
import { loadRegistry, testConfig, until } from '../helpers/common.ts';
import type { ErrorBody } from '../helpers/http.ts';
import { HANGING_ENTRY, hangingDicom, hangStarted } from '../helpers/hanging-decoder.ts';

const hanging = hangingDicom();
const valid = imageDicom(ct());
const silent = pino({ level: 'silent' });
const { registry } = await loadRegistry();
t.teardown(() => registry.close());

/** An app with one decoder thread, which a marked DICOM object hangs until the app closes. */
async function serve(t: Test, env: Record<string, string> = {}) {
  const config = testConfig({ DECODER_THREADS: '1', DECODER_TIMEOUT_MS: '600000', ...env });
  const decoder = new PixelDecoder({
    threads: 1,
    taskTimeoutMs: config.decoderTimeoutMs,
    maxQueue: config.decoderMaxQueue,
    logger: silent,
    entry: HANGING_ENTRY,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  const app = await buildApp({ config, metrics, registry, logger: silent, decoder });
  t.teardown(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = (path: string, body: Buffer, signal?: AbortSignal) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/dicom' },
      body: new Uint8Array(body),
      ...(signal === undefined ? {} : { signal }),
    });
  return { app, url, metrics, decoder, post };
}

t.test('a decode waiting for a thread is dropped when its client leaves; /healthz answers throughout', async (t) => {
  const { decoder, post, url, metrics } = await serve(t);
  const hang = hangStarted();
  const stuck = post('/embed/image', hanging).catch((err: unknown) => err);
  await hang;
  const client = new AbortController();
  const leaving = post('/embed/image', valid, client.signal).catch((err: unknown) => err);
  await until('the second decode waits for the thread', () => decoder.queued === 1);
  t.equal((await fetch(`${url}/healthz`)).status, 200, '/healthz answers while one decode hangs and another waits');
  client.abort();
  t.type(await leaving, Error);
  await until('the waiting decode is dropped, the thread still hung', () => decoder.queued === 0);
  await until('counted as client_gone', async () =>
    (await metrics.requestsRejected.get()).values.some((v) => v.labels.reason === 'client_gone' && v.value === 1),
  );
  void stuck;
});

t.test('a decode waiting for a thread past the request deadline is 504, and leaves the line', async (t) => {
  const { decoder, post } = await serve(t, { REQUEST_TIMEOUT_MS: '500' });
  const hang = hangStarted();
  void post('/embed/image', hanging).catch(() => undefined);
  await hang;
  const late = await post('/embed/image', valid);
  t.equal(late.status, 504);
  t.equal(((await late.json()) as ErrorBody).error.code, 'deadline_exceeded');
  t.equal(decoder.queued, 0);
});

t.test('/preview has the request deadline: 504 while its decode still runs; its memory comes back when the decode ends', async (t) => {
  const { app, post } = await serve(t, { REQUEST_TIMEOUT_MS: '500' });
  const hang = hangStarted();
  const preview = post('/preview', hanging);
  await hang;
  t.ok(app.memoryBudget.reservedBytes > 0, 'the running decode holds its reservation');
  const late = await preview;
  t.equal(late.status, 504);
  t.equal(((await late.json()) as ErrorBody).error.code, 'deadline_exceeded');
  t.ok(app.memoryBudget.reservedBytes > 0, 'still held: the decode has not ended');
  await app.close();
  t.equal(app.memoryBudget.reservedBytes, 0, 'released when the decode ended (the app closing stopped it)');
});
