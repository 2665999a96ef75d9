// Batching on the real engine (demo model through onnxruntime-node), observed through the metrics the service
// exports anyway. The queue's ordering rules are unit-tested against a manual pool in engine/batcher.test.ts.
import t from 'tap';
import { counter, histogram, loadRegistry, maxAbsDiff } from '../helpers/engine-fixtures.ts';

// Cache off so that every text really runs through the encoder; small text batches so that the limits are
// reached with a handful of items.
const { registry, metrics } = await loadRegistry({
  TEXT_CACHE_BYTES: '0',
  TEXT_MAX_BATCH_SIZE: '4',
  IMAGE_MAX_BATCH_SIZE: '8',
  IMAGE_MAX_DELAY_MS: '20',
});
t.teardown(() => registry.close());
const model = registry.get();
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

/** The batches (count) and items (sum) the encoder ran while `body` ran, from unimed_batch_size. */
async function batchesDuring(encoder: 'image' | 'text', body: () => Promise<void>): Promise<{ count: number; sum: number }> {
  const before = await histogram(metrics, 'unimed_batch_size', labels(encoder));
  await body();
  const after = await histogram(metrics, 'unimed_batch_size', labels(encoder));
  return { count: after.count - before.count, sum: after.sum - before.sum };
}

t.test('batch invariance: an image alone and inside a batch of 8 give the same embedding (1e-5)', async (t) => {
  const target = image(1);
  const [alone] = await model.embedImages([target]);
  const batches = await batchesDuring('image', async () => {
    const together = await model.embedImages([image(2), image(3), image(4), target, image(5), image(6), image(7), image(8)]);
    t.ok(maxAbsDiff(alone!, together[3]!) <= 1e-5, `max diff ${maxAbsDiff(alone!, together[3]!)}`);
  });
  t.same(batches, { count: 1, sum: 8 }, 'the 8 images ran as one batch');
});

t.test('a batch is flushed at maxBatchSize; the rest waits for maxDelayMs', async (t) => {
  const batches = await batchesDuring('image', async () => {
    const out = await model.embedImages(Array.from({ length: 9 }, (_, i) => image(10 + i)));
    t.equal(out.length, 9);
  });
  t.same(batches, { count: 2, sum: 9 }, 'a batch of 8, then the one left');
});

t.test('padding invariance: a short text alone and in a batch padded for a 256-token text (1e-5)', async (t) => {
  const short = 'a chest x-ray';
  const long = Array.from({ length: 300 }, () => 'pneumonia').join(' ');
  const [alone] = await model.embedTexts([short]);
  const mixed = await batchesDuring('text', async () => {
    const out = await model.embedTexts([long, short, long + ' effusion']);
    t.ok(maxAbsDiff(alone!, out[1]!) <= 1e-5, `max diff ${maxAbsDiff(alone!, out[1]!)}`);
  });
  t.same(mixed, { count: 1, sum: 3 }, 'in one batch with two 256-token texts');
});

t.test('input buffers come back from the worker and are reused; what they held before never leaks', async (t) => {
  // Each second run below goes into buffers that just held eight images or a 256-token text (attention mask
  // all ones); that they are the very buffers reused is checked in engine/batcher.test.ts.
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

t.test('one text: one queue wait and one inference observed, and nothing left queued or running', async (t) => {
  const wait = await histogram(metrics, 'unimed_queue_wait_seconds', labels('text'));
  const inference = await histogram(metrics, 'unimed_inference_seconds', labels('text'));
  await model.embedTexts(['a text of its own for the metrics']);
  const waitAfter = await histogram(metrics, 'unimed_queue_wait_seconds', labels('text'));
  const inferenceAfter = await histogram(metrics, 'unimed_inference_seconds', labels('text'));
  t.equal(waitAfter.count - wait.count, 1, 'one item waited');
  t.equal(inferenceAfter.count - inference.count, 1, 'one batch ran');
  t.ok(inferenceAfter.sum > inference.sum, 'its inference time was recorded');
  t.equal(await counter(metrics, 'unimed_queue_depth', labels('text')), 0);
  t.equal(await counter(metrics, 'unimed_inflight_batches', labels('text')), 0);
});
