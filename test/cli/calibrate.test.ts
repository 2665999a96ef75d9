// The mathematics of `unimed calibrate` and of eval's trust figures (packages/cli/src/calibrate/maths.ts) on hand
// cases, numpy's permutation for the fold split (values printed by numpy 1.24's RandomState), and the calibration
// file's structure against the committed models/demo/calibration.json (written by training/calibration_file.py):
// the same fields, in the same order, of the same types. The command itself runs against a real service in
// test/integration/cli-calibrate.test.ts.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { fit } from '../../packages/cli/src/calibrate/fit.ts';
import type { Observation } from '../../packages/cli/src/calibrate/fit.ts';
import {
  cholesky,
  conformalQuantile,
  conformalScores,
  fitMahalanobis,
  fitTemperature,
  folds,
  fprAtTpr,
  inverseSpd,
  mahalanobisScore,
  nll,
  normalize,
  permutation,
  predictionSet,
  quantile,
  roundTo,
  thresholdFor,
} from '../../packages/cli/src/calibrate/maths.ts';
import { auroc, computeMetrics } from '../../packages/cli/src/eval/metrics.ts';
import { trustReport } from '../../packages/cli/src/eval/trust.ts';
import type { TrustFields } from '../../packages/cli/src/eval/trust.ts';
import { DEMO } from '../helpers/common.ts';

function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test('the fold split is numpy RandomState(seed).permutation', (t) => {
  t.same(permutation(10, 0), [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
  t.same(permutation(2400, 7).slice(0, 8), [1413, 638, 1183, 1665, 2068, 789, 1989, 1582]);
  const { a, b } = folds(10, 0);
  t.same(a, [1, 2, 4, 8, 9]);
  t.same(b, [0, 3, 5, 6, 7]);
  t.equal(folds(7, 3).a.length, 3);
  t.equal(folds(7, 3).b.length, 4);
  t.end();
});

t.test('Cholesky and the symmetric inverse', (t) => {
  const l = cholesky([
    [4, 2],
    [2, 3],
  ]);
  t.same(l, [
    [2, 0],
    [1, Math.sqrt(2)],
  ]);
  const inv = inverseSpd([
    [4, 2],
    [2, 3],
  ]);
  // inverse of [[4, 2], [2, 3]] = [[3, -2], [-2, 4]] / 8
  [0.375, -0.25, -0.25, 0.5].forEach((v, i) => t.ok(Math.abs(inv[Math.floor(i / 2)]![i % 2]! - v) < 1e-12));
  const rnd = random(5);
  const m = Array.from({ length: 12 }, () => Array.from({ length: 8 }, () => rnd() - 0.5));
  const a = Array.from({ length: 8 }, (_, i) =>
    Array.from({ length: 8 }, (_, j) => m.reduce((s, r) => s + r[i]! * r[j]!, 0) + (i === j ? 0.01 : 0)),
  );
  const ai = inverseSpd(a);
  for (let i = 0; i < 8; i++)
    for (let j = 0; j < 8; j++) {
      const p = a[i]!.reduce((s, v, k) => s + v * ai[k]![j]!, 0);
      t.ok(Math.abs(p - (i === j ? 1 : 0)) < 1e-9, `A inv(A) [${i}][${j}] = ${p}`);
    }
  t.throws(() =>
    cholesky([
      [1, 2],
      [2, 1],
    ]),
  );
  t.end();
});

t.test('Mahalanobis statistics: means, ridge, precision = inverse of the ridged shared covariance', (t) => {
  const emb = [
    [1, 0],
    [3, 0],
    [0, 2],
    [0, 4],
  ];
  const stats = fitMahalanobis(emb, ['b', 'b', 'a', 'a']);
  t.same(stats.classes, ['a', 'b']);
  t.same(stats.means, [
    [0, 3],
    [2, 0],
  ]);
  // centred rows (+-1, 0) and (0, +-1): covariance diag(0.5, 0.5); ridge 1e-3 x trace / 2 = 5e-4
  const d = 1 / 0.5005;
  t.ok(Math.abs(stats.precision[0]![0]! - d) < 1e-12 && Math.abs(stats.precision[0]![1]!) < 1e-12);
  t.ok(Math.abs(mahalanobisScore([2, 1], stats) - d) < 1e-12, 'nearest mean (2, 0) at squared distance 1 x precision');
  t.end();
});

t.test('temperature: the NLL minimum of a hand case', (t) => {
  // every image has cosines (1, 0), three in four belong to label 0: the NLL is least where softmax gives 0.75,
  // i.e. scale / T = ln 3
  const cos = [
    [1, 0],
    [1, 0],
    [1, 0],
    [1, 0],
  ];
  const y = [0, 0, 0, 1];
  const temperature = fitTemperature(cos, y, 10);
  t.ok(Math.abs(temperature - 10 / Math.log(3)) < 1e-6, `T = ${temperature}`);
  t.ok(nll(cos, y, 10 / temperature) < nll(cos, y, 10 / temperature + 0.01));
  t.ok(nll(cos, y, 10 / temperature) < nll(cos, y, 10 / temperature - 0.01));
  t.end();
});

t.test('ECE, AUROC and FPR at 95% TPR on hand cases', (t) => {
  // one right at 0.9, one wrong at 0.8: ECE = 1/2 |1 - 0.9| + 1/2 |0 - 0.8| = 0.45
  const m = computeMetrics(
    ['a', 'b'],
    [
      { truth: 0, predicted: 0, probabilities: [0.9, 0.1] },
      { truth: 1, predicted: 0, probabilities: [0.8, 0.2] },
    ],
  );
  t.ok(Math.abs(m.ece - 0.45) < 1e-12);
  // OOD positive: 2.5 beats 1 and 2, 4 beats all three: 5 of 6 pairs
  t.equal(auroc([1, 2, 3, 2.5, 4], [false, false, false, true, true]), 5 / 6);
  t.equal(quantile([1, 2, 3, 4, 10], 0.05), 1.2);
  // the threshold at which 95% of OOD scores are at or above it: numpy quantile 0.05 of 10..50 = 12
  const at = fprAtTpr([5, 11, 12.5, 13], [10, 20, 30, 40, 50]);
  t.ok(Math.abs(at.threshold - 12) < 1e-9);
  t.equal(at.fpr, 0.5);
  t.end();
});

t.test('conformal scores, quantiles, sets and thresholds', (t) => {
  const scores = conformalScores(
    [
      [0.7, 0.3],
      [0.2, 0.8],
      [0.6, 0.4],
    ],
    [0, 0, 1],
  );
  t.same(
    scores.map((s) => roundTo(s, 12)),
    [0.3, 0.6, 0.8],
  );
  const nine = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((x) => x / 10);
  t.equal(conformalQuantile(nine, 0.9), 0.9, 'k = ceil(10 x 0.9) = 9');
  t.equal(conformalQuantile(nine, 0.5), 0.5, 'k = ceil(10 x 0.5) = 5');
  t.throws(() => conformalQuantile(nine, 0.95), /not in \(0, 9\/10\]/);
  t.same(predictionSet([0.5, 0.3, 0.2], 0.7), [0, 1]);
  t.same(predictionSet([0.5, 0.3, 0.2], 0.4), []);
  // at most 10% of 9 scores above: k = ceil(10 x 0.9) = 9 -> the largest
  t.equal(thresholdFor([9, 1, 5, 3, 7, 2, 8, 4, 6], 0.1), 9);
  t.equal(thresholdFor([9, 1, 5, 3, 7, 2, 8, 4, 6], 0.5), 5);
  t.equal(roundTo(0.12345675, 7), 0.1234568);
  t.same([roundTo(0.5, 0), roundTo(1.5, 0), roundTo(2.5, 0), roundTo(-2.5, 0)], [0, 2, 2, -2], 'half to even');
  t.end();
});

type Json = unknown;
function shape(x: Json): Json {
  if (Array.isArray(x)) return ['list', x.length > 0 ? shape(x[0]) : null];
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, shape(v)]));
  return typeof x;
}

t.test('the file has the fields of models/demo/calibration.json, in order', (t) => {
  const demo = JSON.parse(readFileSync(`${DEMO}/calibration.json`, 'utf8')) as Record<string, Record<string, unknown>>;
  const rnd = random(11);
  const classes = demo.ood!.classes as string[];
  const centres = classes.map(() => Array.from({ length: 64 }, () => rnd() - 0.5));
  const obs: Observation[] = Array.from({ length: 240 }, (_, i) => {
    const c = i % classes.length;
    const embedding = normalize(centres[c]!.map((v) => v + 0.3 * (rnd() - 0.5)));
    const cosFor = (n: number, truth: number) => Array.from({ length: n }, (_, k) => (k === truth ? 0.5 : 0.2) + 0.3 * rnd());
    return {
      embedding,
      label: classes[c]!,
      sets: { modality: { truth: c, cos: cosFor(6, c) }, finding: { truth: i % 2, cos: cosFor(2, i % 2) } },
    };
  });
  const demoSets = demo.prompt_sets as Record<string, { version: string; labels: string[] }>;
  const model = demo.model as { id: string; sha256: string; embed_dim: number; logit_scale: number };
  const fitted = fit(
    obs,
    { ...model, image_encoder_sha256: 'a'.repeat(64), text_encoder_sha256: 'b'.repeat(64) },
    Object.entries(demoSets).map(([name, s]) => ({ name, version: s.version, labels: s.labels })),
    { seed: 0, coverage: 0.9, abstention: 0.04, source: 'test' },
  );
  const doc = JSON.parse(JSON.stringify(fitted.document)) as Record<string, unknown>;
  t.same(JSON.stringify(shape(doc)), JSON.stringify(shape(demo)), 'same fields in the same order, same types');
  const ood = doc.ood as { precision: number[][]; means: number[][]; threshold: number };
  t.equal(ood.precision.length, 64);
  t.equal(ood.means.length, 6);
  t.ok(fitted.ood.scores_b.filter((s) => s > fitted.ood.threshold).length <= Math.floor(0.04 * 120));
  const sorted = (doc.prompt_sets as Record<string, { conformal: { sorted_scores: number[] } }>).modality!.conformal.sorted_scores;
  t.ok(sorted.every((s, i) => s >= 0 && s <= 1 && (i === 0 || s >= sorted[i - 1]!)));
  t.equal(sorted.length, 120);
  t.end();
});

t.test("eval's trust figures from the answers' fields, and their absence", (t) => {
  const none = trustReport([{ truth: 'a', fields: {} }], [{}], 0.9);
  t.same([none.calibration, none.abstained, none.coverage, none.ood], [null, null, null, null]);
  t.ok(none.notes.length >= 3, none.notes.join('; '));
  const calibration = { id: 'c'.repeat(64), temperature: 0.8 };
  const answer = (truth: string, score: number, labels: string[], reason?: string): { truth: string; fields: TrustFields } => ({
    truth,
    fields: {
      calibration,
      out_of_distribution: { score, threshold: 10 },
      abstained: reason === undefined ? null : { reason, score, threshold: 10 },
      prediction_set: reason === undefined ? { coverage: 0.9, labels } : null,
    },
  });
  const r = trustReport(
    [answer('a', 1, ['a']), answer('b', 2, ['a', 'b']), answer('a', 3, []), answer('b', 12, [], 'out_of_distribution')],
    [answer('x', 11, [], 'out_of_distribution').fields, answer('x', 50, [], 'out_of_distribution').fields, answer('x', 2.5, ['a']).fields],
    0.9,
  );
  t.same(r.calibration, calibration);
  t.same(r.abstained, { n: 1, by_reason: { out_of_distribution: 1 }, share: 0.25 });
  t.same(r.coverage, { target: 0.9, n: 3, empirical: 2 / 3, mean_set_size: 1, empty_sets: 1 / 3 });
  // OOD 11, 50, 2.5 against ID 1, 2, 3, 12: pairs won 3 + 4 + 2 = 9 of 12
  t.equal(r.ood!.auroc, 9 / 12);
  t.equal(r.ood!.tpr_at_calibration_threshold, 2 / 3);
  t.equal(r.ood!.fpr_at_calibration_threshold, 1 / 4);
  t.equal(r.ood!.ood_abstained, 2 / 3);
  t.same(r.notes, []);
  t.end();
});
