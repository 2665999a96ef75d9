// The trust maths against hand-computed cases: Mahalanobis scores, the split conformal threshold and its limits,
// prediction sets, temperature scaling; and the conformal guarantee on exchangeable draws of a seeded generator.
import t from 'tap';
import { conformalThreshold, mahalanobisScore, maxCoverage, predictionSet, scaledProbabilities } from '../../src/zeroshot/trust.ts';

t.test('Mahalanobis: the squared distance to the nearest class mean under the shared precision', (t) => {
  const diagonal = { means: [Float64Array.of(0, 0), Float64Array.of(3, 0)], precision: Float64Array.of(1, 0, 0, 4) };
  t.equal(mahalanobisScore([1, 1], diagonal), 5, '(1,1): 1·1² + 4·1² = 5 to the first mean (8 to the second)');
  t.equal(mahalanobisScore([2.5, 0], diagonal), 0.25, '(2.5,0): 0.5² = 0.25 to the second mean');
  t.equal(mahalanobisScore([3, 0], diagonal), 0, 'on a mean: 0');
  const correlated = { means: [Float64Array.of(0, 0)], precision: Float64Array.of(2, 1, 1, 2) };
  t.equal(mahalanobisScore([1, 1], correlated), 6, '[1 1]·[[2 1][1 2]]·[1 1]ᵀ = 6');
  t.equal(mahalanobisScore([1, -1], correlated), 2, '[1 -1]·[[2 1][1 2]]·[1 -1]ᵀ = 2');
  t.end();
});

t.test('split conformal threshold: the ceil((n+1)·coverage)-th smallest score', (t) => {
  const nine = Float64Array.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9);
  t.equal(conformalThreshold(nine, 0.9), 0.9, 'n=9, 0.9: rank ceil(9) = 9');
  t.equal(conformalThreshold(nine, 0.5), 0.5, 'rank ceil(5) = 5');
  t.equal(conformalThreshold(nine, 0.7), 0.7, 'rank 7, although 10·0.7 is 7.000000000000001 in floating point');
  t.equal(conformalThreshold(nine, 0.75), 0.8, 'rank ceil(7.5) = 8');
  t.equal(conformalThreshold(nine, 0.05), 0.1, 'a tiny coverage takes the smallest score');
  t.equal(conformalThreshold(nine, 0.95), undefined, 'rank 10 > n: nine scores cannot promise 0.95');
  t.equal(maxCoverage(9), 0.9);
  t.equal(conformalThreshold(new Float64Array(0), 0.5), undefined, 'no calibration: nothing to promise');
  t.end();
});

t.test('prediction sets: every label with 1 - p at most the threshold, possibly none', (t) => {
  const predictions = [
    { label: 'ct', probability: 0.6 },
    { label: 'mri', probability: 0.3 },
    { label: 'xray', probability: 0.1 },
  ];
  t.same(predictionSet(predictions, 0.75), ['ct', 'mri'], 'p >= 0.25');
  t.same(predictionSet(predictions, 0.95), ['ct', 'mri', 'xray'], 'p >= 0.05');
  t.same(predictionSet(predictions, 0.3), [], 'none reaches p >= 0.7: an empty set');
  t.same(predictionSet([], 0.5), []);
  t.end();
});

t.test('temperature scaling: softmax of logit scale x cosine / T', (t) => {
  const [a, b] = scaledProbabilities([0.5, 0], 2, 1);
  t.ok(Math.abs(a! - Math.E / (Math.E + 1)) < 1e-12, 'T=1: softmax(1, 0)');
  t.ok(Math.abs(b! - 1 / (Math.E + 1)) < 1e-12);
  const [c] = scaledProbabilities([0.5, 0], 2, 2);
  t.ok(Math.abs(c! - Math.exp(0.5) / (Math.exp(0.5) + 1)) < 1e-12, 'T=2 halves the logits: softmax(0.5, 0)');
  const sharp = scaledProbabilities([0.3, 0.2, 0.1], 10, 0.5);
  t.ok(sharp[0]! > scaledProbabilities([0.3, 0.2, 0.1], 10, 1)[0]!, 'T < 1 sharpens');
  t.ok(Math.abs(sharp.reduce((x, y) => x + y, 0) - 1) < 1e-12, 'and still sums to 1');
  t.end();
});

t.test('the guarantee: on exchangeable draws, coverage is at least the level asked and close to it', (t) => {
  // A seeded generator (mulberry32) draws the true label's probability for calibration and test images alike.
  let state = 42;
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const score = (): number => 1 - random() ** 0.3; // skewed towards confident, like a trained model
  const calibration = Float64Array.from({ length: 2000 }, score).sort();
  for (const coverage of [0.8, 0.9, 0.95]) {
    const threshold = conformalThreshold(calibration, coverage)!;
    let covered = 0;
    const draws = 50_000;
    for (let i = 0; i < draws; i++) if (score() <= threshold) covered++;
    const empirical = covered / draws;
    t.ok(empirical >= coverage - 0.01 && empirical <= coverage + 0.02, `coverage ${coverage}: ${empirical.toFixed(4)}`);
  }
  t.end();
});
