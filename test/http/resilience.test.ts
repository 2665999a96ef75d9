// The workload budgets through real HTTP on the demo model (issue 11): requests in progress, a text route's
// body limit, the token budget, schema limits from the configuration, readiness while workers are down, and
// Connection: close while draining. Each: the expected status, the process still serving, /healthz answered.
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { counter } from '../helpers/engine-fixtures.ts';
import { loadRegistry, until } from '../helpers/common.ts';
import { json, listen } from '../helpers/http.ts';
import type { ErrorBody } from '../helpers/http.ts';
import { CRASH, FAIL_START_ENV, INFERENCE_TEST_WORKER, marked } from '../helpers/inference-gate.ts';

const failStartFile = join(mkdtempSync(join(tmpdir(), 'unimed-resilience-')), 'fail-start');
// Read by every test worker as it starts (worker threads copy the environment when they are created).
process.env[FAIL_START_ENV] = failStartFile;
const {
  registry,
  metrics: engineMetrics,
  config,
} = await loadRegistry(
  {
    MAX_INFLIGHT_REQUESTS: '2',
    MAX_TOKENS_PER_REQUEST: '64',
    MAX_TEXT_BODY_BYTES: '4096',
    MAX_TEXTS_PER_REQUEST: '8',
    MAX_CHARS_PER_TEXT: '300',
    TEXT_CACHE_BYTES: '0',
  },
  { inferenceWorker: INFERENCE_TEST_WORKER },
);
const metrics = new Metrics({ defaultMetrics: false });
const served = await listen(config, registry, metrics);
const port = Number(new URL(served.url).port);
t.teardown(async () => {
  rmSync(failStartFile, { force: true });
  await served.app.close();
  await registry.close();
});
const model = registry.get();

/** A raw connection that sends `head` and collects what comes back; `answer` resolves once a whole response head and body arrived. */
function raw(head: string) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (data += d));
  socket.on('error', () => undefined);
  socket.write(head);
  const answer = new Promise<{ status: number; headers: string; body: ErrorBody }>((resolve, reject) => {
    const check = (): void => {
      const end = data.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(data.slice(0, end));
      if (end < 0 || length === null || data.length < end + 4 + Number(length[1])) return;
      socket.off('data', check);
      resolve({
        status: Number(data.slice(9, 12)),
        headers: data.slice(0, end),
        body: JSON.parse(data.slice(end + 4, end + 4 + Number(length[1]))) as ErrorBody,
      });
    };
    socket.on('data', check);
    socket.once('close', () => reject(new Error(`closed before an answer; got ${JSON.stringify(data.slice(0, 200))}`)));
  });
  // A connection the test cuts itself never gets its answer; only a test that awaits it should hear of that.
  answer.catch(() => undefined);
  t.teardown(() => socket.destroy());
  return { socket, answer };
}

const headersOnly = (path: string, type: string, length: number): string =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`;
const postJson = (path: string, body: unknown): Promise<Response> =>
  fetch(served.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('MAX_INFLIGHT_REQUESTS: the next request gets 503 overloaded before any body byte is read; /healthz answers', async (t) => {
  const rejected = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'overloaded' });
  // Two requests whose bodies never come hold the two places.
  const holders = [raw(headersOnly('/embed/image', 'image/png', 1000)), raw(headersOnly('/embed/image', 'image/png', 1000))];
  await until('two requests in progress', async () => (await counter(metrics, 'unimed_requests_in_progress', {})) === 2);
  const third = raw(headersOnly('/embed/image', 'image/png', 1000));
  const refused = await third.answer;
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'overloaded');
  t.match(refused.body.error.message, /MAX_INFLIGHT_REQUESTS allows 2/);
  t.match(refused.headers, /\r\nretry-after: 1\r\n/i);
  t.match(refused.headers, /\r\nconnection: close\r\n/i, 'answered before the body: the connection will close');
  t.equal((await fetch(served.url + '/healthz')).status, 200, '/healthz answers while both places are held');
  t.equal(await counter(metrics, 'unimed_requests_in_progress', {}), 2, 'the holders were still in progress then');
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'overloaded' }), rejected + 1);
  for (const holder of holders) holder.socket.destroy();
  await until('the places to be free again', async () => (await counter(metrics, 'unimed_requests_in_progress', {})) === 0);
  const res = await postJson('/embed/text', { texts: ['chest x-ray'] });
  t.equal(res.status, 200, 'served again once the holders left');
});

t.test('MAX_TEXT_BODY_BYTES: /embed/text refuses a body over it, declared or sent; other routes keep MAX_BODY_BYTES', async (t) => {
  const declared = await raw(headersOnly('/embed/text', 'application/json', 5000)).answer;
  t.equal(declared.status, 413);
  t.equal(declared.body.error.code, 'too_large');
  t.match(declared.body.error.message, /MAX_TEXT_BODY_BYTES allows \(4096 bytes\)/);
  const chunk = `{"texts": ["${'a '.repeat(2500)}"]}`;
  const chunked = await raw(
    `POST /embed/text HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`,
  ).answer;
  t.equal(chunked.status, 413, 'a chunked body is cut at the same limit');
  t.equal(chunked.body.error.code, 'too_large');
  const image = await fetch(served.url + '/embed/image', {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: new Uint8Array(5000),
  });
  t.equal(image.status, 422, '5000 bytes are no image, but under MAX_BODY_BYTES they are read');
  t.equal((await fetch(served.url + '/healthz')).status, 200);
});

t.test('MAX_TOKENS_PER_REQUEST: 413 too_many_tokens before any text reaches the encoder, for texts and for prompts', async (t) => {
  const batches = async (): Promise<number> => counter(engineMetrics, 'unimed_batch_size_count', { model: model.id, encoder: 'text' });
  const ranBefore = await batches();
  const rejected = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'too_many_tokens' });
  const texts = Array.from({ length: 8 }, (_, i) => `finding number ${i} of a chest x-ray with a right lower lobe consolidation`);
  const res = await postJson('/embed/text', { texts });
  t.equal(res.status, 413);
  const body = await json(res);
  t.equal(body.error.code, 'too_many_tokens');
  t.match(body.error.message, /MAX_TOKENS_PER_REQUEST/);
  const png = (await import('node:fs')).readFileSync(join(import.meta.dirname, '../..', 'models/demo/golden_resized.png'));
  const classify = await postJson('/classify', { image: png.toString('base64'), labels: texts, templates: ['a {} image', 'the {} scan'] });
  t.equal(classify.status, 413);
  t.equal((await json(classify)).error.code, 'too_many_tokens');
  t.equal(await batches(), ranBefore, 'no text batch ran for either');
  t.equal(
    await counter(metrics, 'unimed_requests_rejected_total', { reason: 'too_many_tokens' }),
    rejected + 2,
    'each refusal counted by its budget',
  );
  t.equal((await postJson('/embed/text', { texts: ['a chest x-ray', 'a brain mri'] })).status, 200, 'within the budget: served');
});

t.test('the schemas carry the configured limits: /openapi.json states them, a violation keeps its 413 code', async (t) => {
  const doc = (await (await fetch(served.url + '/openapi.json')).json()) as {
    components: { schemas: Record<string, { properties?: Record<string, { maxItems?: number; items?: { maxLength?: number } }> }> };
  };
  const texts = doc.components.schemas.EmbedTextRequest!.properties!.texts!;
  t.equal(texts.maxItems, 8, 'MAX_TEXTS_PER_REQUEST');
  t.equal(texts.items?.maxLength, 300, 'MAX_CHARS_PER_TEXT');
  t.equal(
    doc.components.schemas.ClassifyRequest!.properties!.labels!.maxItems,
    config.limits.promptsPerClassify,
    'MAX_PROMPTS_PER_CLASSIFY',
  );
  const many = await postJson('/embed/text', { texts: Array.from({ length: 9 }, () => 'x') });
  t.equal(many.status, 413);
  const manyBody = await json(many);
  t.equal(manyBody.error.code, 'too_many_texts');
  t.match(manyBody.error.message, /MAX_TEXTS_PER_REQUEST/);
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(8)], { type: 'image/png' }), 'a.png');
  form.append('labels', 'x'.repeat(301));
  form.append('labels', 'y');
  const long = await fetch(served.url + '/classify', { method: 'POST', body: form });
  t.equal(long.status, 413, 'a multipart label over MAX_CHARS_PER_TEXT');
  t.equal((await json(long)).error.code, 'text_too_long');
});

t.test('readiness tells the truth: 503 while an encoder has no live worker, ready again once one starts', async (t) => {
  t.equal((await fetch(served.url + '/readyz')).status, 200);
  const crashed = await counter(engineMetrics, 'unimed_worker_restarts_total', { model: model.id, encoder: 'image', reason: 'crashed' });
  writeFileSync(failStartFile, 'replacements fail while this file exists');
  const plane = 3 * model.imageSpec.size * model.imageSpec.size;
  await t.rejects(model.embedImages([marked(plane, CRASH)]), { name: 'WorkerFailedError' });
  const notReady = await until('readiness to turn 503', async () => {
    const res = await fetch(served.url + '/readyz');
    return res.status === 503 ? res : undefined;
  });
  const body = await json(notReady);
  t.equal(body.error.code, 'not_ready');
  t.match(body.error.message, /no live inference worker/);
  t.ok(notReady.headers.get('retry-after'), 'with Retry-After');
  t.equal((await fetch(served.url + '/healthz')).status, 200, 'the process is alive and says so');
  t.equal(
    await counter(engineMetrics, 'unimed_worker_restarts_total', { model: model.id, encoder: 'image', reason: 'crashed' }),
    crashed + 1,
  );
  await until(
    'a failed replacement to be counted',
    async () =>
      (await counter(engineMetrics, 'unimed_worker_restarts_total', { model: model.id, encoder: 'image', reason: 'start_failed' })) >= 1,
  );
  rmSync(failStartFile);
  await until('readiness to return', async () => (await fetch(served.url + '/readyz')).status === 200, 30_000);
  t.equal((await model.embedImages([marked(plane, 0.5)]))[0]!.length, model.embedDim, 'the replacement serves');
});

t.test('while draining, answers carry Connection: close', async (t) => {
  const draining = await listen(config, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(() => draining.app.close());
  const get = (): Promise<http.IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req = http.get(draining.url + '/healthz', resolve);
      req.on('error', reject);
    });
  const before = await get();
  before.resume();
  t.not(before.headers.connection, 'close', 'keep-alive while serving');
  draining.app.serviceState.startDraining();
  const after = await get();
  after.resume();
  t.equal(after.statusCode, 200);
  t.equal(after.headers.connection, 'close', 'clients are told to reconnect elsewhere');
});
