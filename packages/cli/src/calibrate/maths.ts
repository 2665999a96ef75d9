/**
 * The mathematics of `unimed calibrate` and of the trust figures of `unimed eval`, written to give the numbers of
 * the Python reference (training/trust.py, training/calibration_file.py; bench/trust.py) on the same inputs:
 * - the fold split is numpy's `RandomState(seed).permutation(n)` (MT19937 and numpy's legacy shuffle, below);
 * - Mahalanobis statistics: class means (classes sorted), the shared within-class covariance divided by n, a ridge
 *   of 1e-3 x trace / D, and its inverse (Cholesky, in float64);
 * - temperature: golden-section search of the NLL over log(logit_scale / T) in [log 0.01, log 1000], 100 steps;
 * - thresholds and conformal quantiles: the ceil((n + 1) q)-th smallest calibration score.
 */

/** MT19937 as numpy's RandomState(seed) for an integer seed (init_genrand), giving 32-bit outputs. */
export class MersenneTwister {
  readonly #mt = new Uint32Array(624);
  #index = 624;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError('seed must be an integer in [0, 2^32)');
    this.#mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.#mt[i - 1]! ^ (this.#mt[i - 1]! >>> 30);
      // 1812433253 * prev + i, modulo 2^32, without losing bits to float64
      this.#mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  nextUint32(): number {
    const mt = this.#mt;
    if (this.#index >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % 624]! & 0x7fffffff);
        mt[i] = mt[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.#index = 0;
    }
    let y = mt[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by masked rejection (numpy's random_interval, max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    for (;;) {
      const value = (this.nextUint32() & mask) >>> 0;
      if (value <= max) return value;
    }
  }
}

/** numpy.random.RandomState(seed).permutation(n). */
export function permutation(n: number, seed: number): number[] {
  const rng = new MersenneTwister(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.interval(i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** bench/trust.py's split: fold A = the first floor(n / 2) of the permutation, fold B the rest, each in index order. */
export function folds(n: number, seed: number): { a: number[]; b: number[] } {
  const perm = permutation(n, seed);
  const half = Math.floor(n / 2);
  return { a: perm.slice(0, half).sort((x, y) => x - y), b: perm.slice(half).sort((x, y) => x - y) };
}

/** Lower-triangular L with A = L Lᵀ for a symmetric positive definite A; throws when A is not. */
export function cholesky(a: readonly (readonly number[])[]): number[][] {
  const n = a.length;
  const l = a.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i]![j]!;
      for (let k = 0; k < j; k++) sum -= l[i]![k]! * l[j]![k]!;
      if (i === j) {
        if (!(sum > 0)) throw new RangeError('the matrix is not positive definite');
        l[i]![i] = Math.sqrt(sum);
      } else {
        l[i]![j] = sum / l[j]![j]!;
      }
    }
  }
  return l;
}

/** The inverse of a symmetric positive definite matrix through its Cholesky factor, symmetrised. */
export function inverseSpd(a: readonly (readonly number[])[]): number[][] {
  const n = a.length;
  const l = cholesky(a);
  // inv(L) by forward substitution, then inv(A) = inv(L)ᵀ inv(L)
  const li = l.map(() => new Array<number>(n).fill(0));
  for (let j = 0; j < n; j++) {
    li[j]![j] = 1 / l[j]![j]!;
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      for (let k = j; k < i; k++) sum -= l[i]![k]! * li[k]![j]!;
      li[i]![j] = sum / l[i]![i]!;
    }
  }
  const inv = l.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = i; k < n; k++) sum += li[k]![i]! * li[k]![j]!;
      inv[i]![j] = sum;
      inv[j]![i] = sum;
    }
  return inv;
}

export function normalize(x: readonly number[]): number[] {
  const norm = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  return x.map((v) => v / norm);
}

export interface Mahalanobis {
  classes: string[];
  means: number[][];
  precision: number[][];
}

/** Class means and the shared precision of (normalised) embeddings; classes sorted by code unit. */
export function fitMahalanobis(embeddings: readonly (readonly number[])[], labels: readonly string[], shrinkage = 1e-3): Mahalanobis {
  const classes = [...new Set(labels)].sort();
  const d = embeddings[0]!.length;
  const means = classes.map((c) => {
    const rows = embeddings.filter((_, i) => labels[i] === c);
    return Array.from({ length: d }, (_, k) => rows.reduce((s, r) => s + r[k]!, 0) / rows.length);
  });
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  embeddings.forEach((x, i) => {
    const m = means[classes.indexOf(labels[i]!)]!;
    const c = x.map((v, k) => v - m[k]!);
    for (let p = 0; p < d; p++) for (let q = 0; q < d; q++) cov[p]![q]! += c[p]! * c[q]!;
  });
  let trace = 0;
  for (let p = 0; p < d; p++) {
    for (let q = 0; q < d; q++) cov[p]![q]! /= embeddings.length;
    trace += cov[p]![p]!;
  }
  for (let p = 0; p < d; p++) cov[p]![p]! += (shrinkage * trace) / d;
  return { classes, means, precision: inverseSpd(cov) };
}

/** The squared Mahalanobis distance to the nearest class mean. */
export function mahalanobisScore(x: readonly number[], stats: Pick<Mahalanobis, 'means' | 'precision'>): number {
  let best = Number.POSITIVE_INFINITY;
  for (const mean of stats.means) {
    const diff = x.map((v, k) => v - mean[k]!);
    let s = 0;
    for (let p = 0; p < diff.length; p++) {
      const row = stats.precision[p]!;
      let dot = 0;
      for (let q = 0; q < diff.length; q++) dot += row[q]! * diff[q]!;
      s += diff[p]! * dot;
    }
    best = Math.min(best, s);
  }
  return best;
}

export function softmax(z: readonly number[]): number[] {
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Mean negative log-likelihood of softmax(scale x cos) at the true labels. */
export function nll(cos: readonly (readonly number[])[], y: readonly number[], scale: number): number {
  let total = 0;
  cos.forEach((row, i) => {
    const p = softmax(row.map((c) => scale * c))[y[i]!]!;
    total -= Math.log(Math.max(p, 1e-300));
  });
  return total / cos.length;
}

/** The temperature T minimising the NLL of softmax(logitScale x cos / T) (training/trust.py fit_temperature). */
export function fitTemperature(cos: readonly (readonly number[])[], y: readonly number[], logitScale: number, lo = 1e-2, hi = 1e3): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(lo);
  let b = Math.log(hi);
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = nll(cos, y, Math.exp(c));
  let fd = nll(cos, y, Math.exp(d));
  for (let i = 0; i < 100; i++) {
    if (fc < fd) {
      [b, d, fd] = [d, c, fc];
      c = b - g * (b - a);
      fc = nll(cos, y, Math.exp(c));
    } else {
      [a, c, fc] = [c, d, fd];
      d = a + g * (b - a);
      fd = nll(cos, y, Math.exp(d));
    }
  }
  return logitScale / Math.exp((a + b) / 2);
}

/** The k-th smallest (k = ceil((n + 1) q)) of ascending scores; throws when k > n. */
export function conformalQuantile(sorted: readonly number[], q: number): number {
  const n = sorted.length;
  const k = q > 0 && q < 1 ? Math.ceil((n + 1) * q) : n + 1;
  if (k > n) throw new RangeError(`${q} is not in (0, ${n}/${n + 1}] for ${n} calibration images`);
  return sorted[k - 1]!;
}

/** The score above which an input is abstained so that at most `rate` of in-distribution inputs are. */
export function thresholdFor(scores: readonly number[], rate: number): number {
  return conformalQuantile(
    [...scores].sort((a, b) => a - b),
    1 - rate,
  );
}

/** Ascending conformal scores 1 - p(true label). */
export function conformalScores(probabilities: readonly (readonly number[])[], y: readonly number[]): number[] {
  return probabilities.map((p, i) => 1 - p[y[i]!]!).sort((a, b) => a - b);
}

/** Label c is in the set iff 1 - p_c <= q (the set may be empty). */
export function predictionSet(probabilities: readonly number[], q: number): number[] {
  return probabilities.flatMap((p, c) => (1 - p <= q ? [c] : []));
}

/** numpy.quantile's default (linear interpolation between order statistics). */
export function quantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** Share of in-distribution inputs scored at or above the threshold that catches `tpr` of the OOD ones. */
export function fprAtTpr(idScores: readonly number[], oodScores: readonly number[], tpr = 0.95): { fpr: number; threshold: number } {
  const threshold = quantile(oodScores, 1 - tpr);
  return { fpr: idScores.filter((s) => s >= threshold).length / idScores.length, threshold };
}

/** numpy.round(x, digits): round half to even on x x 10^digits. */
export function roundTo(x: number, digits: number): number {
  const f = 10 ** digits;
  const y = x * f;
  const r = Math.round(y);
  const even = Math.abs(y % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  return even / f;
}
