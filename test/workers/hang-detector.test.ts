// When an inference worker counts as hung: from measured batch times (src/workers/hang-detector.ts), with
// WORKER_TIMEOUT_MS as the ceiling; on the real engine, a hung worker is replaced long before that ceiling.
import t from 'tap';
import { HANG_FACTOR, HANG_FLOOR_MS, HangDetector } from '../../src/workers/hang-detector.ts';
import { WorkerFailedError } from '../../src/workers/errors.ts';
import { counter } from '../helpers/engine-fixtures.ts';
import { loadRegistry } from '../helpers/common.ts';
import { HANG, INFERENCE_TEST_WORKER, marked } from '../helpers/inference-gate.ts';

t.test('the limit: the ceiling until a task is timed, then 10 x p99 per unit x units, within [floor, ceiling]', (t) => {
  const hangs = new HangDetector(60_000, true);
  t.equal(hangs.limitMs(16), 60_000, 'no measurement yet: WORKER_TIMEOUT_MS');
  for (let i = 0; i < 98; i++) hangs.record(160, 16); // 10 ms per image
  for (let i = 0; i < 2; i++) hangs.record(1600, 16); // two slow batches of 100 samples: 100 ms per image is the p99
  t.equal(hangs.limitMs(1), HANG_FLOOR_MS, 'a small batch: the floor');
  t.equal(hangs.limitMs(16), HANG_FACTOR * 100 * 16, '16 images: 10 x 100 ms x 16');
  t.equal(hangs.limitMs(64), 60_000, 'past the ceiling: the ceiling');
  t.equal(new HangDetector(0, true).limitMs(16), 0, 'WORKER_TIMEOUT_MS 0: never');
  const fixed = new HangDetector(30_000, false);
  fixed.record(10, 1);
  t.equal(fixed.limitMs(1), 30_000, 'without measured hangs (the pixel decoder): the configured figure');
  t.end();
});

t.test('a hung worker is replaced at the measured limit, not at WORKER_TIMEOUT_MS', async (t) => {
  const { registry, metrics } = await loadRegistry(
    { WORKER_TIMEOUT_MS: '600000', TEXT_CACHE_BYTES: '0' },
    { inferenceWorker: INFERENCE_TEST_WORKER },
  );
  t.teardown(() => registry.close());
  const model = registry.get();
  const plane = 3 * model.imageSpec.size * model.imageSpec.size;
  // Batches the demo model runs in milliseconds: the limit falls to the floor.
  for (let i = 0; i < 3; i++) await model.embedImages([marked(plane, 0.1 * i)]);
  const err = await model.embedImages([marked(plane, HANG)]).catch((e: unknown) => e);
  t.ok(err instanceof WorkerFailedError);
  t.match(err, { reason: 'timed_out', message: new RegExp(`more than ${HANG_FLOOR_MS} ms`) });
  t.equal(await counter(metrics, 'unimed_worker_restarts_total', { model: model.id, encoder: 'image', reason: 'timed_out' }), 1);
  t.equal((await model.embedImages([marked(plane, 0.5)]))[0]!.length, model.embedDim, 'the replacement serves');
});
