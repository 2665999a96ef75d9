/**
 * Classification metrics of `unimed eval`, over the classes `labels` (every class the model chose among, also
 * those without examples in the data):
 * - accuracy; balanced accuracy = mean recall over the classes that have examples (as scikit-learn);
 * - per class: precision, recall, F1 (0 where undefined, like scikit-learn's zero_division=0), support, and
 *   one-vs-rest AUROC of the class's probability (null when the class has no positive or no negative example);
 * - macro AUROC = mean of the defined per-class AUROCs (null if none is);
 * - expected calibration error: top-1 probabilities in 15 equal-width bins (lo, hi], the first [0, 1/15];
 *   ECE = sum over bins of (bin size / n) x |accuracy of the bin - mean top-1 probability of the bin|;
 * - the confusion matrix, rows = true class, columns = predicted class, in `labels` order.
 */

export interface Scored {
  /** index into labels */
  truth: number;
  /** index into labels (the service's best prediction) */
  predicted: number;
  /** probability of every label, in labels order */
  probabilities: number[];
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
  auroc: number | null;
}

export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  accuracy: number | null;
  confidence: number | null;
}

export interface Metrics {
  n: number;
  accuracy: number;
  balanced_accuracy: number;
  macro_auroc: number | null;
  ece: number;
  per_class: Record<string, ClassMetrics>;
  confusion: number[][];
  reliability: ReliabilityBin[];
}

export const ECE_BINS = 15;

/**
 * AUROC as the probability that a random positive scores above a random negative (ties count half), computed
 * from average ranks (Mann-Whitney U) in O(n log n).
 */
export function auroc(scores: readonly number[], positive: readonly boolean[]): number | null {
  const order = scores.map((s, i) => ({ s, p: positive[i]! })).sort((a, b) => a.s - b.s);
  const positives = order.filter((x) => x.p).length;
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return null;
  let rankSum = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.s === order[i]!.s) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (order[k]!.p) rankSum += averageRank;
    i = j + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

export function computeMetrics(labels: readonly string[], items: readonly Scored[]): Metrics {
  const k = labels.length;
  const n = items.length;
  const confusion = labels.map(() => new Array<number>(k).fill(0));
  for (const item of items) confusion[item.truth]![item.predicted]!++;
  const perClass: Record<string, ClassMetrics> = {};
  const recalls: number[] = [];
  const aurocs: number[] = [];
  labels.forEach((label, c) => {
    const tp = confusion[c]![c]!;
    const support = confusion[c]!.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((sum, row) => sum + row[c]!, 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    const area = auroc(
      items.map((x) => x.probabilities[c]!),
      items.map((x) => x.truth === c),
    );
    perClass[label] = { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support, auroc: area };
    if (support > 0) recalls.push(recall);
    if (area !== null) aurocs.push(area);
  });
  const correct = items.filter((x) => x.truth === x.predicted).length;
  const reliability = reliabilityBins(items);
  const ece = reliability.reduce((sum, b) => (b.count === 0 ? sum : sum + (b.count / n) * Math.abs(b.accuracy! - b.confidence!)), 0);
  return {
    n,
    accuracy: ratio(correct, n),
    balanced_accuracy: recalls.length === 0 ? 0 : recalls.reduce((a, b) => a + b, 0) / recalls.length,
    macro_auroc: aurocs.length === 0 ? null : aurocs.reduce((a, b) => a + b, 0) / aurocs.length,
    ece,
    per_class: perClass,
    confusion,
    reliability,
  };
}

function reliabilityBins(items: readonly Scored[]): ReliabilityBin[] {
  const bins = Array.from({ length: ECE_BINS }, (_, b) => ({
    lower: b / ECE_BINS,
    upper: (b + 1) / ECE_BINS,
    count: 0,
    correct: 0,
    confidence: 0,
  }));
  for (const item of items) {
    const top = item.probabilities[item.predicted]!;
    const b = Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(top * ECE_BINS) - 1));
    bins[b]!.count++;
    bins[b]!.confidence += top;
    if (item.truth === item.predicted) bins[b]!.correct++;
  }
  return bins.map((b) => ({
    lower: b.lower,
    upper: b.upper,
    count: b.count,
    accuracy: b.count === 0 ? null : b.correct / b.count,
    confidence: b.count === 0 ? null : b.confidence / b.count,
  }));
}
