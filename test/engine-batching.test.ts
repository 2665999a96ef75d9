import t from 'tap';
import { CancelledError, ServiceError } from '../src/errors.ts';
import { counter, histogram, loadRegistry, maxAbsDiff, waitFor } from './helpers/engine-fixtures.ts';

// Cache off so that every text really runs through the encoder; small text batches and queue so that the
// limits are reached with a handful of items.
const { registry, metrics } = await loadRegistry({
  TEXT_CACHE_BYTES: '0',
  TEXT_MAX_BATCH_SIZE: '4',
  TEXT_MAX_QUEUE: '8',
  IMAGE_MAX_BATCH_SIZE: '8',
  IMAGE_MAX_DELAY_MS: '20',
});
t.teardown(() => registry.close());
const model = registry.get();
const debug = registry.debug();
const labels = (encoder: string): Record<string, string> => ({ model: model.id, encoder });
const plane = 3 * model.imageSpec.size * model.imageSpec.size;

/** A deterministic pseudo-random image tensor (values in the normalized range). */
function image(seed: number): Float32Array {
  const out = new Float32Array(plane);
  let x = seed * 2654435761;
  for (let i = 0; i < plane; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x / 0xffffffff) * 4 - 2;
  }
  return out;
}

/** Records every batch dispatched while `body` runs. */
async function batchesDuring(encoder: 'image' | 'text', body: () => Promise<void>): Promise<number[][]> {
  const seen: number[][] = [];
  const off = debug.onBatch(encoder, (costs) => seen.push(costs));
  try {
    await body();
  } finally {
    off();
  }
  return seen;
}

t.test('batch invariance: an image alone and inside a batch of 8 give the same embedding (1e-5)', async (t) => {
  const target = image(1);
  const [alone] = await model.embedImages([target]);
  const before = await histogram(metrics, 'unimed_batch_size', labels('image'));
  const batches = await batchesDuring('image', async () => {
    const together = await model.embedImages([image(2), image(3), image(4), target, image(5), image(6), image(7), image(8)]);
    t.ok(maxAbsDiff(alone!, together[3]!) <= 1e-5, `max diff ${maxAbsDiff(alone!, together[3]!)}`);
  });
  t.same(batches, [[1, 1, 1, 1, 1, 1, 1, 1]], 'the 8 images ran as one batch');
  const after = await histogram(metrics, 'unimed_batch_size', labels('image'));
  t.equal(after.count - before.count, 1);
  t.equal(after.sum - before.sum, 8);
});

t.test('a batch is flushed at maxBatchSize; the rest waits for maxDelayMs', async (t) => {
  const batches = await batchesDuring('image', async () => {
    const out = await model.embedImages(Array.from({ length: 9 }, (_, i) => image(10 + i)));
    t.equal(out.length, 9);
  });
  t.same(batches.map((b) => b.length), [8, 1]);
});

t.test('padding invariance: a short text alone and in a batch padded for a 256-token text (1e-5)', async (t) => {
  const short = 'a chest x-ray';
  const long = Array.from({ length: 300 }, () => 'pneumonia').join(' ');
  let alone: Float32Array | undefined;
  const lone = await batchesDuring('text', async () => {
    [alone] = await model.embedTexts([short]);
  });
  t.ok(lone.every((b) => b.length === 1 && b[0]! < 8), 'alone: padded to 8 tokens');
  const mixed = await batchesDuring('text', async () => {
    const out = await model.embedTexts([long, short, long + ' effusion']);
    t.ok(maxAbsDiff(alone!, out[1]!) <= 1e-5, `max diff ${maxAbsDiff(alone!, out[1]!)}`);
  });
  t.same(mixed, [[lone[0]![0]!, 256, 256]], 'in one batch with two 256-token texts, sorted by length');
});

t.test('input buffers come back from the worker and are reused; what they held before never leaks', async (t) => {
  // The batches above left buffers that held eight images and 256-token texts (attention mask all ones).
  t.ok(debug.buffersKept('image') > 0, `image buffers kept: ${debug.buffersKept('image')}`);
  t.ok(debug.buffersKept('text') > 0, `text buffers kept: ${debug.buffersKept('text')}`);
  const target = image(1);
  const [first] = await model.embedImages([target]);
  await model.embedImages(Array.from({ length: 8 }, (_, i) => image(100 + i)));
  const [again] = await model.embedImages([target]);
  t.equal(maxAbsDiff(first!, again!), 0, 'an image alone in a buffer that held 8 others: identical');

  const short = 'a chest x-ray';
  const [alone] = await model.embedTexts([short]);
  await model.embedTexts([Array.from({ length: 300 }, () => 'effusion').join(' ')]);
  const [after] = await model.embedTexts([short]);
  t.equal(maxAbsDiff(alone!, after!), 0, 'a short text in buffers that held a 256-token text: identical (mask and ids rewritten)');
});

t.test('queued texts are grouped by length; the oldest always goes first', async (t) => {
  const short = (i: number): string => `short ${i}`;
  const long = (i: number): string => `${Array.from({ length: 40 }, () => 'lesion').join(' ')} ${i}`;
  const batches = await batchesDuring('text', async () => {
    debug.stall('text', 300);
    const held = model.embedTexts(['held 1', 'held 2', 'held 3', 'held 4']);
    const queued = Array.from({ length: 8 }, (_, i) => model.embedTexts([i % 2 === 0 ? short(i) : long(i)]));
    await Promise.all([held, ...queued]);
  });
  t.equal(batches.length, 3);
  const [, first, second] = batches;
  t.equal(first?.length, 4);
  t.equal(second?.length, 4);
  t.equal(new Set(first).size, 1, `first batch all short: ${JSON.stringify(first)}`);
  t.equal(new Set(second).size, 1, `second batch all long: ${JSON.stringify(second)}`);
  t.ok(first![0]! < second![0]!);
});

t.test('a full queue answers 503 queue_full with a Retry-After', async (t) => {
  const rejected = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'queue_full' });
  debug.stall('text', 300);
  const held = model.embedTexts(['q1', 'q2', 'q3', 'q4']);
  await waitFor(() => debug.inflight('text') === 1, 'the first batch to be held');
  const queued = model.embedTexts(Array.from({ length: 8 }, (_, i) => `queued ${i}`));
  t.equal(debug.queueLength('text'), 8);
  const err = await model.embedTexts(['one too many']).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof ServiceError);
  t.match(err, { statusCode: 503, code: 'queue_full' });
  t.ok((err as ServiceError).retryAfterSeconds! >= 1, 'Retry-After is at least a second');
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'queue_full' }), rejected + 1);
  const results = await Promise.all([held, queued]);
  t.same(results.map((r) => r.length), [4, 8], 'the accepted requests still finish');
});

t.test('a deadline that passes in the queue or in a held batch answers 504 at that moment', async (t) => {
  const ran = debug.itemsRun('image');
  debug.stall('image', 400);
  let heldDone = false;
  const held = model.embedImages([image(100)]).then((r) => {
    heldDone = true;
    return r;
  });
  await waitFor(() => debug.inflight('image') === 1, 'the held batch');
  const inQueue = model.embedImages([image(101)], { deadline: Date.now() + 30 });
  await t.rejects(inQueue, { statusCode: 504, code: 'deadline_exceeded' });
  t.equal(heldDone, false, 'the queued request got 504 while the worker was still busy');
  await held;
  t.equal(debug.itemsRun('image') - ran, 1, 'the expired item never reached a worker');

  debug.stall('image', 400);
  let runningDone = false;
  const running = model.embedImages([image(102)], { deadline: Date.now() + 50 });
  const witness = model.embedImages([image(103)]).then(() => (runningDone = true));
  await t.rejects(running, { statusCode: 504, code: 'deadline_exceeded' });
  t.equal(runningDone, false, 'the held request got 504 before the batch finished');
  await witness;
  t.ok((await counter(metrics, 'unimed_requests_rejected_total', { reason: 'deadline' })) >= 2);
  await t.rejects(model.embedImages([image(104)], { deadline: Date.now() - 1 }), { statusCode: 504, code: 'deadline_exceeded' });
});

t.test('an aborted request is dropped before it runs; the worker never sees it', async (t) => {
  const ran = debug.itemsRun('image');
  const gone = await counter(metrics, 'unimed_requests_rejected_total', { reason: 'client_gone' });
  debug.stall('image', 300);
  const held = model.embedImages([image(200)]);
  await waitFor(() => debug.inflight('image') === 1, 'the held batch');
  const controller = new AbortController();
  const dropped = model.embedImages([image(201), image(202)], { signal: controller.signal });
  t.equal(debug.queueLength('image'), 2);
  controller.abort();
  await t.rejects(dropped, CancelledError);
  t.equal(debug.queueLength('image'), 0, 'its items left the queue at once');
  await held;
  t.equal(debug.itemsRun('image') - ran, 1, 'only the held image ran');
  const before = await histogram(metrics, 'unimed_batch_size', labels('image'));
  await t.rejects(model.embedImages([image(203)], { signal: AbortSignal.abort() }), CancelledError);
  const after = await histogram(metrics, 'unimed_batch_size', labels('image'));
  t.equal(after.sum, before.sum, 'an already aborted request is never batched');
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', { reason: 'client_gone' }), gone + 2);
});

t.test('batch metrics move', async (t) => {
  const wait = await histogram(metrics, 'unimed_queue_wait_seconds', labels('text'));
  const inference = await histogram(metrics, 'unimed_inference_seconds', labels('text'));
  t.ok(wait.count > 0 && inference.count > 0);
  t.equal(await counter(metrics, 'unimed_queue_depth', labels('text')), 0);
  t.equal(await counter(metrics, 'unimed_inflight_batches', labels('image')), 0);
});
