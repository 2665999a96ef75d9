/**
 * The maths of answers a hospital can trust (docs/trust.md): an out-of-distribution score for an image embedding
 * (Mahalanobis distance to the nearest class mean of the calibration images, one shared covariance), split
 * conformal prediction sets, and temperature-scaled probabilities. Pure functions; the calibration they read is
 * loaded and checked by models/calibration.ts.
 */
import type { MahalanobisStatistics } from '../models/calibration.ts';

/**
 * The squared Mahalanobis distance from `x` to the nearest class mean: large for an image unlike every class the
 * calibration saw. O(classes x dimension²): 6 x 64² for the demo model, 6 x 512² (1.6 M multiply-adds) for a ViT-B/16.
 */
export function mahalanobisScore(x: ArrayLike<number>, statistics: MahalanobisStatistics): number {
  const { means, precision } = statistics;
  const dim = x.length;
  const diff = new Float64Array(dim);
  let best = Number.POSITIVE_INFINITY;
  for (const mean of means) {
    for (let i = 0; i < dim; i++) diff[i] = x[i]! - mean[i]!;
    let total = 0;
    for (let i = 0; i < dim; i++) {
      let row = 0;
      const offset = i * dim;
      for (let j = 0; j < dim; j++) row += precision[offset + j]! * diff[j]!;
      total += diff[i]! * row;
    }
    if (total < best) best = total;
  }
  return best;
}

/**
 * The largest coverage `n` calibration scores can promise: the conformal quantile is the ceil((n+1)·coverage)-th
 * smallest score, which exists only while that rank is at most n, i.e. coverage <= n/(n+1).
 */
export function maxCoverage(n: number): number {
  return n / (n + 1);
}

/**
 * Split conformal threshold (score = 1 - the true label's probability): the ceil((n+1)·coverage)-th smallest of
 * the n calibration scores (`sorted`, ascending). Undefined when coverage is above maxCoverage(n). With
 * exchangeable calibration and test images, a set of the labels whose score is at most this threshold contains
 * the true label with probability at least `coverage` (Vovk et al.; Angelopoulos & Bates, "A gentle introduction",
 * section 1).
 */
export function conformalThreshold(sorted: ArrayLike<number>, coverage: number): number | undefined {
  const n = sorted.length;
  const rank = Math.ceil((n + 1) * coverage - 1e-9);
  if (n === 0 || rank > n) return undefined;
  return sorted[Math.max(rank, 1) - 1]!;
}

/**
 * The labels whose probability is at least 1 - threshold, most probable first. May be empty: no label is
 * plausible enough for that coverage (a set padded with the top label would cover more than was asked, and say
 * less than the truth: that nothing stands out).
 */
export function predictionSet(predictions: readonly { label: string; probability: number }[], threshold: number): string[] {
  return predictions.filter((p) => 1 - p.probability <= threshold).map((p) => p.label);
}

/**
 * Softmax of logitScale·cosine / temperature, in the order given: temperature > 1 softens an over-confident model,
 * < 1 sharpens an under-confident one; the order of the labels never changes.
 */
export function scaledProbabilities(similarities: readonly number[], logitScale: number, temperature: number): number[] {
  const logits = similarities.map((s) => (logitScale * s) / temperature);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}
