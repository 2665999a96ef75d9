import t from 'tap';
import { ServiceError } from '../src/errors.ts';
import { counter, loadRegistry, waitFor } from './helpers/engine-fixtures.ts';

const { registry, metrics } = await loadRegistry({ WORKER_TIMEOUT_MS: '1500', TEXT_CACHE_BYTES: '0' });
const model = registry.get();
const debug = registry.debug();
const plane = 3 * model.imageSpec.size * model.imageSpec.size;
const image = (value: number): Float32Array => new Float32Array(plane).fill(value);

t.test('inference runs in worker threads, one per encoder by default', (t) => {
  t.equal(debug.workers('image').length, 1);
  t.equal(debug.workers('text').length, 1);
  t.not(debug.workers('image')[0]!.threadId, debug.workers('text')[0]!.threadId);
  t.end();
});

t.test('a killed worker: its request gets 503 worker_failed, it is replaced, later requests succeed', async (t) => {
  const failures = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'worker_failed' });
  const [victim] = debug.workers('image');
  debug.stall('image', 30_000);
  const held = model.embedImages([image(0.5)]);
  await waitFor(() => debug.inflight('image') === 1, 'the batch to be held by the worker');
  await victim!.terminate();
  await t.rejects(held, { statusCode: 503, code: 'worker_failed' });
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'worker_failed' }), failures + 1);
  await waitFor(() => debug.workers('image').length === 1 && debug.workers('image')[0] !== victim, 'a replacement worker');
  const [again] = await model.embedImages([image(0.5)]);
  t.equal(again!.length, model.embedDim, 'the replacement serves');
  t.same(registry.list()[0]!.providers, { image: 'cpu', text: 'cpu' });
});

t.test('a hung worker (batch held past WORKER_TIMEOUT_MS) is terminated and replaced; its request gets 503', async (t) => {
  const [hung] = debug.workers('text');
  debug.stall('text', 30_000);
  const held = model.embedTexts(['held by a hung worker']);
  const err = await held.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ServiceError);
  t.match(err, { statusCode: 503, code: 'worker_failed', message: /more than 1500 ms/ });
  await waitFor(() => debug.workers('text').length === 1 && debug.workers('text')[0] !== hung, 'a replacement worker');
  const [ok] = await model.embedTexts(['served by the replacement']);
  t.equal(ok!.length, model.embedDim);
});

t.test('close() lets queued and running batches finish, then refuses new work and stops the workers', async (t) => {
  debug.stall('image', 200);
  const pending = [model.embedImages([image(0.1)]), model.embedImages([image(0.2), image(0.3)]), model.embedTexts(['drained text'])];
  await waitFor(() => debug.inflight('image') === 1, 'a batch in flight');
  await registry.close();
  const results = await Promise.all(pending);
  t.same(results.map((r) => r.length), [1, 2, 1], 'every accepted request was answered');
  await t.rejects(model.embedImages([image(0.4)]), { statusCode: 503, code: 'shutting_down' });
  t.equal(debug.workers('image').length + debug.workers('text').length, 0, 'workers are gone');
});

t.test('WORKERS_PER_ENCODER=2: two batches run at once, at most one per worker, the next one waits', async (t) => {
  const two = await loadRegistry({ WORKERS_PER_ENCODER: '2', IMAGE_MAX_BATCH_SIZE: '2' });
  t.teardown(() => two.registry.close());
  const d = two.registry.debug();
  t.equal(d.workers('image').length, 2);
  d.stall('image', 300);
  const requests = [0, 1, 2].map((i) => two.registry.get().embedImages([image(i), image(i + 0.5)]));
  t.equal(d.inflight('image'), 2, 'one batch on each worker');
  t.equal(d.queueLength('image'), 2, 'the third batch waits in the queue');
  const results = await Promise.all(requests);
  t.same(results.map((r) => r.length), [2, 2, 2]);
});
