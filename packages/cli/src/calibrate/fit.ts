/**
 * From what the service answered for every labelled image (its embedding, and the raw cosines of each prompt
 * set's labels) to the calibration file (training/calibration_file.py's format, field for field) and the
 * figures of the report. Fold A (detector statistics, temperatures) and fold B (threshold, conformal scores) as
 * bench/trust.py splits them. Measured figures (no held-out set is given): ECE before/after on fold B (the
 * temperature was fitted on fold A), coverage and set size on fold A (the conformal quantile came from fold B).
 */
import { computeMetrics } from '../eval/metrics.ts';
import type { ReliabilityBin } from '../eval/metrics.ts';
import {
  conformalQuantile,
  conformalScores,
  fitMahalanobis,
  fitTemperature,
  folds,
  mahalanobisScore,
  predictionSet,
  roundTo,
  softmax,
  thresholdFor,
} from './maths.ts';

export interface Observation {
  /** The L2-normalised image embedding. */
  embedding: number[];
  /** The class of the Mahalanobis statistics (the label column). */
  label: string;
  /** Per prompt set: the true label's index and the cosines of its labels, in the set's order. */
  sets: Record<string, { truth: number; cos: number[] }>;
}

export interface ModelFacts {
  id: string;
  sha256: string;
  image_encoder_sha256?: string | undefined;
  text_encoder_sha256?: string | undefined;
  embed_dim: number;
  logit_scale: number;
}

export interface PromptSetFacts {
  name: string;
  version: string;
  labels: string[];
}

export interface FitOptions {
  seed: number;
  coverage: number;
  abstention: number;
  /** What the data was, for data.description. */
  source: string;
}

export interface SetFigures {
  temperature: number;
  accuracy: number;
  ece_before: number;
  ece_after: number;
  coverage: number;
  mean_set_size: number;
  empty_sets: number;
  quantile: number;
  reliability_before: ReliabilityBin[];
  reliability_after: ReliabilityBin[];
  scores: number[];
}

export interface Fitted {
  document: Record<string, unknown>;
  ood: { threshold: number; scores_a: number[]; scores_b: number[]; abstained_b: number };
  sets: Record<string, SetFigures>;
}

const round = (xs: readonly number[], digits: number): number[] => xs.map((x) => roundTo(x, digits));

function setFigures(
  obs: readonly Observation[],
  a: number[],
  b: number[],
  set: PromptSetFacts,
  scale: number,
  coverage: number,
): SetFigures {
  const name = set.name;
  const y = (idx: number[]): number[] => idx.map((i) => obs[i]!.sets[name]!.truth);
  const cos = (idx: number[]): number[][] => idx.map((i) => obs[i]!.sets[name]!.cos);
  const probs = (idx: number[], t: number): number[][] => cos(idx).map((row) => softmax(row.map((c) => (scale / t) * c)));
  const temperature = fitTemperature(cos(a), y(a), scale);
  const scores = conformalScores(probs(b, temperature), y(b));
  const quantile = conformalQuantile(scores, coverage);
  const scored = (p: number[][], truth: number[]) =>
    p.map((probabilities, i) => ({ truth: truth[i]!, predicted: probabilities.indexOf(Math.max(...probabilities)), probabilities }));
  const before = computeMetrics(set.labels, scored(probs(b, 1), y(b)));
  const after = computeMetrics(set.labels, scored(probs(b, temperature), y(b)));
  const sets = probs(a, temperature).map((p) => predictionSet(p, quantile));
  const ya = y(a);
  return {
    temperature,
    accuracy: before.accuracy,
    ece_before: before.ece,
    ece_after: after.ece,
    coverage: sets.filter((s, i) => s.includes(ya[i]!)).length / sets.length,
    mean_set_size: sets.reduce((t, s) => t + s.length, 0) / sets.length,
    empty_sets: sets.filter((s) => s.length === 0).length / sets.length,
    quantile,
    reliability_before: before.reliability,
    reliability_after: after.reliability,
    scores,
  };
}

export function fit(obs: readonly Observation[], model: ModelFacts, promptSets: readonly PromptSetFacts[], options: FitOptions): Fitted {
  const n = obs.length;
  const { a, b } = folds(n, options.seed);
  const maha = fitMahalanobis(
    a.map((i) => obs[i]!.embedding),
    a.map((i) => obs[i]!.label),
  );
  const scoresA = a.map((i) => mahalanobisScore(obs[i]!.embedding, maha));
  const scoresB = b.map((i) => mahalanobisScore(obs[i]!.embedding, maha));
  const threshold = thresholdFor(scoresB, options.abstention);
  const figures: Record<string, SetFigures> = {};
  const sets: Record<string, unknown> = {};
  for (const ps of promptSets) {
    const f = setFigures(obs, a, b, ps, model.logit_scale, options.coverage);
    figures[ps.name] = f;
    sets[ps.name] = {
      version: ps.version,
      labels: ps.labels,
      temperature: roundTo(f.temperature, 6),
      conformal: { score: '1 - p(true label)', n: f.scores.length, sorted_scores: round(f.scores, 7) },
      measured: {
        ece_before: roundTo(f.ece_before, 4),
        ece_after: roundTo(f.ece_after, 4),
        [`coverage_at_${options.coverage}`]: roundTo(f.coverage, 4),
        [`mean_set_size_at_${options.coverage}`]: roundTo(f.mean_set_size, 3),
      },
    };
  }
  const primary = promptSets[0]!.name;
  const modelPart: Record<string, unknown> = { id: model.id, sha256: model.sha256 };
  if (model.image_encoder_sha256 !== undefined) modelPart.image_encoder_sha256 = model.image_encoder_sha256;
  if (model.text_encoder_sha256 !== undefined) modelPart.text_encoder_sha256 = model.text_encoder_sha256;
  Object.assign(modelPart, { embed_dim: model.embed_dim, logit_scale: model.logit_scale });
  const document = {
    format: 'unimed-calibration',
    format_version: 1,
    model: modelPart,
    data: {
      description:
        `${options.source}, ${n} images, split at random (seed ${options.seed}) into fold A (detector statistics, ` +
        `temperatures) and fold B (threshold, conformal scores); measured: ECE on fold B, coverage on fold A (unimed calibrate)`,
      n,
      fold_a: a.length,
      fold_b: b.length,
    },
    temperature: {
      value: roundTo(figures[primary]!.temperature, 6),
      fitted_on: primary,
      note: "model-level temperature (inline labels): the primary prompt set's, the first listed",
    },
    ood: {
      method: 'mahalanobis',
      space: 'L2-normalised image embedding',
      score: 'min over classes c of (x - means[c])^T precision (x - means[c])',
      abstain_when: 'score > threshold',
      threshold: roundTo(threshold, 6),
      in_distribution_abstention: options.abstention,
      n_threshold: b.length,
      classes: maha.classes,
      means: maha.means.map((m) => round(m, 7)),
      precision: maha.precision.map((row) => round(row, 5)),
    },
    prompt_sets: sets,
  };
  return {
    document,
    ood: { threshold, scores_a: scoresA, scores_b: scoresB, abstained_b: scoresB.filter((s) => s > threshold).length / scoresB.length },
    sets: figures,
  };
}
