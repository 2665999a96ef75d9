// The app's pixel decoder as clients see it: DECODER_* settings, a hung decode answered 422, a full decoder
// queue answered 503 with Retry-After, and the decoder's threads ended with the app. The decoder threads run
// test/fixtures/workers/hanging-decoder.ts: the real decoder, except that a marked DICOM object hangs for real.
import { readdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import t from 'tap';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { PixelDecoder } from '../../src/inputs/decoder/pixel-decoder.ts';
import { Metrics } from '../../src/metrics.ts';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';
import type { ErrorBody } from '../helpers/http.ts';
import { loadRegistry, testConfig } from '../helpers/http.ts';
import { HANGING_ENTRY, hangingDicom, hangStarted } from '../helpers/hanging-decoder.ts';

const hanging = hangingDicom();
const valid = imageDicom(ct());
const silent = pino({ level: 'silent' });
const metrics = new Metrics({ defaultMetrics: false });
const registry = await loadRegistry(testConfig(), metrics);
t.teardown(() => registry.close());

/** An app whose decoder is made from `config` as the app would make it, on the hanging decoder's threads. */
async function appWith(config: Config) {
  const decoder = new PixelDecoder({
    threads: config.decoderThreads,
    taskTimeoutMs: config.decoderTimeoutMs,
    maxQueue: config.decoderMaxQueue,
    logger: silent,
    entry: HANGING_ENTRY,
  });
  return buildApp({ config, metrics, registry, logger: silent, decoder });
}

/** Threads named as Node names worker threads, counted from /proc (Linux). */
function workerThreads(): number {
  return readdirSync('/proc/self/task').filter((id) => readFileSync(`/proc/self/task/${id}/comm`, 'utf8').trim() === 'WorkerThread').length;
}

t.test('DECODER_TIMEOUT_MS and DECODER_MAX_QUEUE: defaults, and bad values stop the start', (t) => {
  const config = loadConfig({});
  t.equal(config.decoderTimeoutMs, 30_000);
  t.equal(config.decoderMaxQueue, 64);
  t.equal(loadConfig({ DECODER_TIMEOUT_MS: '5000', DECODER_MAX_QUEUE: '8' }).decoderTimeoutMs, 5000);
  t.throws(() => loadConfig({ DECODER_TIMEOUT_MS: '0' }), ConfigError);
  t.throws(() => loadConfig({ DECODER_TIMEOUT_MS: 'soon' }), /DECODER_TIMEOUT_MS/);
  t.throws(() => loadConfig({ DECODER_MAX_QUEUE: '0' }), /DECODER_MAX_QUEUE/);
  t.end();
});

t.test(
  'a hung decode is 422; of two images behind it, the one over DECODER_MAX_QUEUE is 503 with Retry-After, the other 200',
  async (t) => {
    const app = await appWith(testConfig({ DECODER_THREADS: '1', DECODER_TIMEOUT_MS: '1000', DECODER_MAX_QUEUE: '1' }));
    t.teardown(() => app.close());
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const post = (body: Buffer) =>
      fetch(`${url}/preview`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: new Uint8Array(body) });

    const hang = hangStarted();
    const hung = post(hanging);
    await hang;
    const [a, b] = await Promise.all([post(valid), post(valid)]);
    const [refused, served] = a.status === 503 ? [a, b] : [b, a];
    t.equal(refused.status, 503);
    t.equal(refused.headers.get('retry-after'), '1');
    t.equal(((await refused.json()) as ErrorBody).error.code, 'queue_full');
    t.equal(served.status, 200, 'the queued image waited for the hung one and was served');
    t.equal(served.headers.get('content-type'), 'image/png');
    const answer = await hung;
    t.equal(answer.status, 422);
    t.match(((await answer.json()) as ErrorBody).error, { code: 'undecodable', message: /took longer than 1000 ms/ });
  },
);

t.test('closing the app fails pending decodes with 503 and ends the decoder threads', async (t) => {
  if (process.platform !== 'linux') {
    t.comment('threads are counted from /proc: Linux only');
    return;
  }
  const before = workerThreads();
  const app = await appWith(testConfig({ DECODER_THREADS: '1' }));
  t.equal(workerThreads(), before + 1, 'the decoder thread started with the app');
  const inject = (body: Buffer) =>
    app.inject({ method: 'POST', url: '/preview', headers: { 'content-type': 'application/dicom' }, payload: body });
  const hang = hangStarted();
  const running = inject(hanging);
  await hang;
  const queued = inject(valid);
  await app.close();
  for (const response of await Promise.all([running, queued])) {
    t.equal(response.statusCode, 503);
    t.equal(response.headers['retry-after'], '1');
    t.equal(response.json<ErrorBody>().error.code, 'shutting_down');
  }
  t.ok(workerThreads() <= before, 'no decoder thread outlives the app');
});
