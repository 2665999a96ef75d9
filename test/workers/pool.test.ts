// Worker supervision on the real engine: the demo model through onnxruntime-node, with a test worker entry
// (test/helpers/inference-gate.ts) that can hold, hang or crash on a marked image.
import pino from 'pino';
import t from 'tap';
import { DeadlineExceededError, ShuttingDownError } from '../../src/engine/errors.ts';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/service/registry.ts';
import { WorkerFailedError } from '../../src/workers/errors.ts';
import { counter, histogram, testConfig } from '../helpers/engine-fixtures.ts';
import { CRASH, HANG, HOLD, INFERENCE_TEST_WORKER, InferenceGate, marked } from '../helpers/inference-gate.ts';

async function load(env: Record<string, string> = {}) {
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = await ModelRegistry.load(testConfig({ TEXT_CACHE_BYTES: '0', ...env }), {
    logger: pino({ level: 'silent' }),
    metrics,
    inferenceWorker: INFERENCE_TEST_WORKER,
  });
  return { registry, metrics, model: registry.get() };
}

const gate = new InferenceGate();
t.teardown(() => gate.close());
const { registry, metrics, model } = await load({ WORKER_TIMEOUT_MS: '1000' });
const plane = 3 * model.imageSpec.size * model.imageSpec.size;
const labels = { model: model.id, encoder: 'image' };

t.test('a crashed worker: the batch it held fails with WorkerFailedError, a replacement serves the next', async (t) => {
  const err = await model.embedImages([marked(plane, CRASH)]).catch((e: unknown) => e);
  t.ok(err instanceof WorkerFailedError);
  t.match(err, { reason: 'crashed', message: /exited with code 3/ });
  const [again] = await model.embedImages([marked(plane, 0.5)]);
  t.equal(again!.length, model.embedDim, 'the replacement serves');
  t.same(registry.list()[0]!.providers, { image: 'cpu', text: 'cpu' });
  const info = await counter(metrics, 'unimed_model_info', { model: model.id, provider: 'cpu' });
  t.equal(info, 1, 'one unimed_model_info series after the replacement');
});

t.test('a hung worker (batch held past WORKER_TIMEOUT_MS) is terminated and replaced', async (t) => {
  const err = await model.embedImages([marked(plane, HANG)]).catch((e: unknown) => e);
  t.ok(err instanceof WorkerFailedError);
  t.match(err, { reason: 'timed_out', message: /more than 1000 ms/ });
  const [again] = await model.embedImages([marked(plane, 0.5)]);
  t.equal(again!.length, model.embedDim);
});

t.test('the hang timeout counts from when the worker takes a batch, not while it waits in the queue', async (t) => {
  // Two batches of 600 ms each on one worker, with WORKER_TIMEOUT_MS 1000: the second waits 600 ms and runs
  // 600 ms, 1200 ms after it was queued. Counted from enqueue it would be killed; counted from start it is not.
  // (The waits are the durations under test, not synchronisation: the holds end when the test releases them.)
  const hold = () => new Promise<void>((resolve) => setTimeout(resolve, 600));
  const before = gate.held;
  const first = model.embedImages([marked(plane, HOLD)]);
  await gate.holding(before + 1);
  const second = model.embedImages([marked(plane, HOLD)]);
  await hold();
  gate.release();
  await gate.holding(before + 2);
  await hold();
  gate.release();
  t.equal((await first)[0]!.length, model.embedDim);
  t.equal((await second)[0]!.length, model.embedDim, 'the second batch is served, 1200 ms after it was queued');
  const wait = await histogram(metrics, 'unimed_queue_wait_seconds', labels);
  t.ok(wait.sum >= 0.6, `it waited ${wait.sum.toFixed(2)} s in the queue`);
});

t.test('close() lets queued and running batches finish, then refuses new work and stops the workers', async (t) => {
  const own = await load();
  const before = gate.held;
  const pending = [
    own.model.embedImages([marked(plane, HOLD)]),
    own.model.embedImages([marked(plane, 0.1), marked(plane, 0.2)]),
    own.model.embedTexts(['drained text']),
  ];
  await gate.holding(before + 1);
  const closed = own.registry.close();
  await t.rejects(own.model.embedImages([marked(plane, 0.4)]), ShuttingDownError);
  gate.release();
  const results = await Promise.all(pending);
  await closed;
  t.same(
    results.map((r) => r.length),
    [1, 2, 1],
    'every accepted request was answered',
  );
  t.equal(await counter(own.metrics, 'unimed_model_info', { model: model.id }), 0, 'the model info series is gone');
});

t.test('WORKERS_PER_ENCODER=2: two batches run at once, at most one per worker, the next one waits', async (t) => {
  const two = await load({ WORKERS_PER_ENCODER: '2', IMAGE_MAX_BATCH_SIZE: '1', IMAGE_MAX_DELAY_MS: '0' });
  t.teardown(() => two.registry.close());
  const before = gate.held;
  const requests = [0, 1, 2].map(() => two.model.embedImages([marked(plane, HOLD)]));
  await gate.holding(before + 2);
  t.equal(await counter(two.metrics, 'unimed_inflight_batches', labels), 2, 'one batch on each worker');
  t.equal(await counter(two.metrics, 'unimed_queue_depth', labels), 1, 'the third waits in the queue');
  gate.release();
  await gate.holding(before + 3);
  gate.release();
  t.same(
    (await Promise.all(requests)).map((r) => r.length),
    [1, 1, 1],
  );
});

t.test('a deadline passes while the batch runs: DeadlineExceededError(running=true)', async (t) => {
  const before = gate.held;
  const running = model.embedImages([marked(plane, HOLD)], { deadline: Date.now() + 50 });
  await gate.holding(before + 1);
  const err = await running.catch((e: unknown) => e);
  t.ok(err instanceof DeadlineExceededError);
  t.equal((err as DeadlineExceededError).running, true);
  gate.release();
});

t.teardown(() => registry.close());
