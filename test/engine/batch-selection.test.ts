// Fair shares of a batch on the real engine (demo model through onnxruntime-node): the text worker holds its
// batches on the inference gate's command, so what waits in the queue, and in which batch it runs, is forced.
import t from 'tap';
import { counter } from '../helpers/engine-fixtures.ts';
import { loadRegistry, until } from '../helpers/common.ts';
import { INFERENCE_TEST_WORKER, InferenceGate } from '../helpers/inference-gate.ts';

const gate = new InferenceGate();
t.teardown(() => gate.close());
const { registry, metrics } = await loadRegistry({ TEXT_CACHE_BYTES: '0' }, { inferenceWorker: INFERENCE_TEST_WORKER });
t.teardown(() => registry.close());
const model = registry.get();
const textLabels = { model: model.id, encoder: 'text' };
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
/** Distinct texts of the same token count (single letters are single word pieces), so length grouping cannot tell them apart. */
const letters = (i: number): string => `${LETTERS[i % 26]!} ${LETTERS[Math.floor(i / 26) % 26]!} x y z`;

t.test('a request of 200 prompts, then a small one queued after it: the small one runs in the next batch', async (t) => {
  const before = gate.held;
  await gate.arm(1, 'text');
  const blocker = model.embedTexts([letters(650)], { owner: 'blocker' });
  await gate.holding(before + 1);

  const settled: string[] = [];
  const large = model.embedTexts(
    Array.from({ length: 200 }, (_, i) => letters(i)),
    { owner: 'large' },
  );
  const small = model.embedTexts([letters(600), letters(601), letters(602)], { owner: 'small' });
  void large.then(() => settled.push('large'));
  void small.then(() => settled.push('small'));
  await until('both requests to be queued', async () => (await counter(metrics, 'unimed_queue_depth', textLabels)) === 203);

  // The blocker finishes; the next batch (64 texts) is held in its turn, then the one after it.
  await gate.arm(1, 'text');
  gate.release();
  await gate.holding(before + 2);
  t.equal(await counter(metrics, 'unimed_queue_depth', textLabels), 203 - 64, 'the second batch took 64 texts');
  await gate.arm(1, 'text');
  gate.release();
  await gate.holding(before + 3);
  t.same(settled, ['small'], 'the small request was answered by the first batch after the blocker; the large one still runs');
  gate.release();
  const [largeRows, smallRows] = await Promise.all([large, small, blocker]);
  t.equal(largeRows.length, 200);
  t.equal(smallRows.length, 3);
  t.same(settled, ['small', 'large']);
});
