// Readiness, back-pressure, deadlines and worker failure as HTTP clients see them (real registry, real HTTP).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/service/registry.ts';
import { counter, histogram } from '../helpers/engine-fixtures.ts';
import type { EmbedBody } from '../helpers/http.ts';
import { DEMO, json, listen, testConfig, until } from '../helpers/http.ts';
import { HOLD, INFERENCE_TEST_WORKER, InferenceGate, marked } from '../helpers/inference-gate.ts';

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const postImage = (url: string) =>
  fetch(url + '/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });

// One registry with a tiny image queue (1 item per batch, 2 waiting at most) serves every test here. Its
// inference worker is the real one plus a gate (test/helpers/inference-gate.ts) that holds a batch on demand.
const config = testConfig({ IMAGE_MAX_BATCH_SIZE: '1', IMAGE_MAX_QUEUE: '2', IMAGE_MAX_DELAY_MS: '0' });
const metrics = new Metrics({ defaultMetrics: false });
const registry = await ModelRegistry.load(config, { logger: pino({ level: 'silent' }), metrics, inferenceWorker: INFERENCE_TEST_WORKER });
const served = await listen(config, registry, metrics);
const url = served.url;
const gate = new InferenceGate();
const model = registry.get();
const held = () => marked(3 * model.imageSpec.size * model.imageSpec.size, HOLD);
const imageLabels = { model: model.id, encoder: 'image' };
t.teardown(async () => {
  gate.close();
  await served.app.close();
  await registry.close();
});

t.test('before the registry is loaded: /healthz 200, everything else 503 not_ready with Retry-After', async (t) => {
  const starting = await listen(config, undefined, new Metrics({ defaultMetrics: false }));
  t.teardown(() => starting.app.close());
  t.equal((await fetch(starting.url + '/healthz')).status, 200);
  for (const [path, init] of [
    ['/readyz', {}],
    ['/models', {}],
    ['/prompt-sets', {}],
    ['/embed/text', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"texts":["a"]}' }],
  ] as const) {
    const res = await fetch(starting.url + path, init);
    t.equal(res.status, 503, path);
    t.equal(res.headers.get('retry-after'), '5');
    t.equal((await json(res)).error.code, 'not_ready');
  }
  starting.app.serviceState.setRegistry(registry);
  t.equal((await fetch(starting.url + '/readyz')).status, 200, 'ready once the registry is set');
  starting.app.serviceState.startDraining();
  const draining = await fetch(starting.url + '/readyz');
  t.equal(draining.status, 503);
  t.equal((await json(draining)).error.code, 'shutting_down');
  const refused = await postImage(starting.url);
  t.equal(refused.status, 503);
  t.equal((await json(refused)).error.code, 'shutting_down');
  t.equal((await fetch(starting.url + '/models')).status, 200, 'read-only routes still answer while draining');
  const counted = await (await fetch(starting.url + '/metrics')).text();
  t.match(counted, /unimed_requests_rejected_total\{reason="not_ready"\} 1/);
  t.match(counted, /unimed_requests_rejected_total\{reason="shutting_down"\} 1/);
});

t.test('a deadline shorter than the work answers 504', async (t) => {
  const hurried = testConfig({ REQUEST_TIMEOUT_MS: '1' });
  const app = await listen(hurried, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(() => app.app.close());
  const res = await postImage(app.url);
  t.equal(res.status, 504);
  t.equal((await json(res)).error.code, 'deadline_exceeded');
});

t.test('a full queue answers 503 queue_full with Retry-After, counted once each; /healthz answers meanwhile', async (t) => {
  const before = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'queue_full' });
  const holding = gate.held;
  const blocker = model.embedImages([held()]);
  await gate.holding(holding + 1);
  // The worker is busy and the queue takes 2: of 4 requests, exactly 2 wait and 2 are refused.
  const answered: Response[] = [];
  let twoAnswered: () => void = () => undefined;
  const refusals = new Promise<void>((resolve) => (twoAnswered = resolve));
  const requests = Array.from({ length: 4 }, () =>
    postImage(url).then((r) => {
      answered.push(r);
      if (answered.length === 2) twoAnswered();
      return r;
    }),
  );
  await refusals;
  for (const r of answered) {
    t.equal(r.status, 503);
    t.equal((await json(r)).error.code, 'queue_full');
    t.match(r.headers.get('retry-after'), /^\d+$/);
  }
  t.equal(await counter(metrics, 'unimed_queue_depth', imageLabels), 2, 'two requests wait');
  const health = await fetch(url + '/healthz');
  t.equal(health.status, 200, '/healthz answers while the image worker is busy');
  gate.release();
  await blocker;
  const statuses = (await Promise.all(requests)).map((r) => r.status).sort();
  t.same(statuses, [200, 200, 503, 503]);
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'queue_full' }), before + 2);
});

t.test('a worker that dies holding a request: 503 worker_failed, counted as a failure; its replacement serves', async (t) => {
  const failed = await counter(metrics, 'unimed_requests_failed_total', { reason: 'worker_failed' });
  const rejected = await counter(metrics, 'unimed_requests_rejected_total', {});
  await gate.arm();
  const holding = gate.held;
  const pending = postImage(url);
  await gate.holding(holding + 1);
  gate.crash();
  const res = await pending;
  t.equal(res.status, 503);
  t.equal((await json(res)).error.code, 'worker_failed');
  t.equal(res.headers.get('retry-after'), '1');
  t.equal(await counter(metrics, 'unimed_requests_failed_total', { reason: 'worker_failed' }), failed + 1);
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', {}), rejected, 'a failure after dispatch is not a refusal');
  const next = await postImage(url);
  t.equal(next.status, 200, 'the next request waits for the replacement and is served');
  t.equal((await json<EmbedBody>(next)).embeddings.length, 1);
});

t.test('a client that disconnects: its queued work is dropped, the server keeps serving', async (t) => {
  const gone = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'client_gone' });
  const holding = gate.held;
  const blocker = model.embedImages([held()]);
  await gate.holding(holding + 1);
  const ran = await histogram(metrics, 'unimed_batch_size', imageLabels);
  const controller = new AbortController();
  const staying = postImage(url);
  const leaving = fetch(url + '/embed/image', {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: new Uint8Array(png),
    signal: controller.signal,
  }).catch(() => 'aborted');
  await until('both requests to be queued', async () =>
    (await counter(metrics, 'unimed_queue_depth', imageLabels)) === 2 ? true : undefined,
  );
  controller.abort();
  t.equal(await leaving, 'aborted');
  await until('the abandoned request to leave the queue', async () =>
    (await counter(metrics, 'unimed_queue_depth', imageLabels)) === 1 ? true : undefined,
  );
  gate.release();
  await blocker;
  t.equal((await staying).status, 200, 'the request queued beside it is answered');
  const after = await histogram(metrics, 'unimed_batch_size', imageLabels);
  t.equal(after.sum - ran.sum, 1, 'only the staying request ran; the abandoned one was dropped');
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'client_gone' }), gone + 1);
  t.equal((await postImage(url)).status, 200);
});
