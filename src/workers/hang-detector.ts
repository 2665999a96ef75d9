/** A task held longer than this many times the p99 time of tasks like it is taken for a hang. */
export const HANG_FACTOR = 10;
/** ... but never sooner than this (a short p99 measured on an idle machine says little about a busy one). */
export const HANG_FLOOR_MS = 5_000;
/** Task times remembered (the most recent ones). */
const SAMPLES = 256;

/**
 * When a worker holding a task counts as hung. From measured task times: HANG_FACTOR x the p99 time per unit
 * (a batch's padded cost: texts x tokens, or images) x the task's units, at least HANG_FLOOR_MS, at most the
 * configured ceiling (WORKER_TIMEOUT_MS), which is also the limit until a first task has been timed. A fixed
 * figure would either cut a large model's legitimate batches or leave a small model's hung worker for a minute.
 */
export class HangDetector {
  readonly #ceilingMs: number;
  readonly #measured: boolean;
  readonly #msPerUnit: number[] = [];
  /** Reused for sorting: a p99 is asked for on every dispatch, and a fresh sorted copy each time was needless garbage. */
  readonly #sorted = new Float64Array(SAMPLES);
  #next = 0;
  #p99: number | undefined;

  constructor(ceilingMs: number, measured: boolean) {
    this.#ceilingMs = ceilingMs;
    this.#measured = measured;
  }

  /** The limit for a task of `units`; 0 means none. */
  limitMs(units: number): number {
    if (this.#ceilingMs === 0 || !this.#measured) return this.#ceilingMs;
    const p99 = this.#p99 ?? this.#computeP99();
    if (p99 === undefined) return this.#ceilingMs;
    return Math.ceil(Math.min(this.#ceilingMs, Math.max(HANG_FLOOR_MS, HANG_FACTOR * p99 * Math.max(1, units))));
  }

  /** A task of `units` finished in `ms`. */
  record(ms: number, units: number): void {
    if (!this.#measured) return;
    const perUnit = ms / Math.max(1, units);
    if (this.#msPerUnit.length < SAMPLES) this.#msPerUnit.push(perUnit);
    else this.#msPerUnit[this.#next] = perUnit;
    this.#next = (this.#next + 1) % SAMPLES;
    this.#p99 = undefined;
  }

  #computeP99(): number | undefined {
    if (this.#msPerUnit.length === 0) return undefined;
    const n = this.#msPerUnit.length;
    const sorted = this.#sorted.subarray(0, n);
    sorted.set(this.#msPerUnit);
    sorted.sort();
    this.#p99 = sorted[Math.min(n - 1, Math.ceil(0.99 * n) - 1)]!;
    return this.#p99;
  }
}
