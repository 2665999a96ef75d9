/**
 * Output-quality telemetry (docs/operations.md "Output quality"): per classification answer, the top probability,
 * the margin between the first two, the out-of-distribution score against its threshold and any abstention, and
 * per model a drift gauge: the mean of (out-of-distribution score / threshold) over the model's last `window`
 * classified images. Labels are the model id, the prompt set's configured name (`inline` for labels sent with the
 * request) and the abstention reason: never a label's text, nothing of the request.
 */
import type { Metrics } from '../metrics.ts';

export const ABSTENTION_REASONS = ['out_of_distribution', 'low_confidence'] as const;
export type AbstentionReason = (typeof ABSTENTION_REASONS)[number];

/** The `prompt_set` label of answers to labels sent with the request. */
export const INLINE_PROMPT_SET = 'inline';

/** What one classification answer tells the telemetry. */
export interface AnswerQuality {
  /** The answer's probabilities, in any order (temperature-scaled where a calibration applies). */
  probabilities: readonly number[];
  /** The image's out-of-distribution score and the calibration's threshold; absent without a calibration or under policy off. */
  ood?: { score: number; threshold: number } | undefined;
  /** Set when the answer abstained. */
  abstained?: AbstentionReason | undefined;
}

/**
 * The last `size` values of one model in a ring, with their sum: O(1) per value, `size` numbers of memory. The sum
 * is recomputed each time the ring comes round, so rounding errors of the running sum never build up.
 */
class RollingMean {
  readonly #values: Float64Array;
  #next = 0;
  #filled = 0;
  #sum = 0;

  constructor(size: number) {
    this.#values = new Float64Array(size);
  }

  add(value: number): void {
    this.#sum += value - this.#values[this.#next]!;
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#filled < this.#values.length) this.#filled++;
    if (this.#next === 0) this.#sum = this.#values.reduce((a, b) => a + b, 0);
  }

  get count(): number {
    return this.#filled;
  }

  get mean(): number {
    return this.#sum / this.#filled;
  }
}

/** The two largest finite values, largest first. */
function topTwo(values: readonly number[]): [number | undefined, number | undefined] {
  let first: number | undefined;
  let second: number | undefined;
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    if (first === undefined || value > first) [first, second] = [value, first];
    else if (second === undefined || value > second) second = value;
  }
  return [first, second];
}

/** Built once per service with its Metrics and DRIFT_WINDOW; the classify use cases call `record` per answer. */
export class OutputQuality {
  readonly #drift = new Map<string, RollingMean>();
  /** `model\0prompt_set` pairs whose abstention counters exist (at 0 for each reason), so rates have a series. */
  readonly #seen = new Set<string>();

  readonly #metrics: Metrics;
  /** The images per model the drift gauge averages over (DRIFT_WINDOW). */
  readonly driftWindow: number;

  constructor(metrics: Metrics, driftWindow: number) {
    if (!Number.isSafeInteger(driftWindow) || driftWindow < 1) throw new RangeError(`drift window: ${driftWindow}`);
    this.#metrics = metrics;
    this.driftWindow = driftWindow;
  }

  /**
   * One classification answer of `model` (one per image: each /classify image, each /classify/series answer).
   * `promptSet`: the name of the configured prompt set the request named, undefined for inline labels (never
   * the labels themselves). Never throws on odd numbers: a value that is not finite is left out of its histogram.
   */
  record(model: { id: string }, promptSet: string | undefined, answer: AnswerQuality): void {
    const labels = { model: model.id, prompt_set: promptSet ?? INLINE_PROMPT_SET };
    this.#startAbstentionCounters(labels);
    this.#metrics.answers.inc(labels);
    if (answer.abstained !== undefined) this.#metrics.abstentions.inc({ ...labels, reason: answer.abstained });
    const [first, second] = topTwo(answer.probabilities);
    if (first !== undefined) {
      this.#metrics.topProbability.observe(labels, first);
      if (second !== undefined) this.#metrics.probabilityMargin.observe(labels, first - second);
    }
    const ratio = answer.ood === undefined ? NaN : answer.ood.score / answer.ood.threshold;
    if (answer.ood !== undefined && answer.ood.threshold > 0 && Number.isFinite(ratio)) {
      this.#metrics.oodScoreRatio.observe(labels, ratio);
      this.#addDrift(model.id, ratio);
    }
  }

  /** The drift gauge's current value for a model (undefined before its first image with a score). */
  driftOf(modelId: string): number | undefined {
    const rolling = this.#drift.get(modelId);
    return rolling === undefined ? undefined : rolling.mean;
  }

  #addDrift(modelId: string, ratio: number): void {
    let rolling = this.#drift.get(modelId);
    if (rolling === undefined) {
      rolling = new RollingMean(this.driftWindow);
      this.#drift.set(modelId, rolling);
    }
    rolling.add(ratio);
    this.#metrics.embeddingDrift.set({ model: modelId }, rolling.mean);
    this.#metrics.embeddingDriftImages.set({ model: modelId }, rolling.count);
  }

  #startAbstentionCounters(labels: { model: string; prompt_set: string }): void {
    const key = `${labels.model}\0${labels.prompt_set}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    for (const reason of ABSTENTION_REASONS) this.#metrics.abstentions.inc({ ...labels, reason }, 0);
  }
}
