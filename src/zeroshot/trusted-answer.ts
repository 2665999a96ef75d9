/**
 * A classification with what makes it trustworthy (docs/trust.md): probabilities at the calibrated temperature,
 * the out-of-distribution score, the decision to abstain, and a conformal prediction set when a coverage is asked.
 */
import { badRequest, inField } from '../errors.ts';
import type { LabelSpec, Prediction } from '../models/types.ts';
import type { Calibration } from '../models/calibration.ts';
import { classify } from './scoring.ts';
import { conformalThreshold, mahalanobisScore, maxCoverage, predictionSet } from './trust.ts';

import type { TrustPolicy } from '../config.ts';
export type { TrustPolicy };

export interface TrustRequest {
  /** The coverage of the prediction set asked for, in (0, 1). */
  coverage?: number;
  /** Abstain (low_confidence) when the top probability is below this. */
  minProbability?: number;
}

export interface Abstention {
  reason: 'out_of_distribution' | 'low_confidence';
  score: number;
  threshold: number;
}

export interface TrustedClassification {
  predictions: Prediction[];
  abstained: Abstention | null;
  outOfDistribution: { score: number; threshold: number } | null;
  calibration: { id: string; temperature: number } | null;
  /** Present when a coverage was asked: null when abstained (the guarantee holds in distribution only). */
  predictionSet?: { coverage: number; labels: string[] } | null;
}

/** What a classification is scored with: the model's scale and calibration, the service's policy. */
export interface TrustSetting {
  logitScale: number;
  calibration: Calibration | undefined;
  policy: TrustPolicy;
}

/**
 * 400 for a trust request the calibration cannot honour, checked before any image is fetched or decoded: a
 * coverage needs a calibrated prompt set (inline labels were never calibrated: no guarantee) and at most n/(n+1).
 */
export function checkTrustRequest(request: TrustRequest, setting: TrustSetting, promptSet: string | undefined): void {
  const { coverage, minProbability } = request;
  for (const [field, value] of [
    ['coverage', coverage],
    ['min_probability', minProbability],
  ] as const) {
    if (value !== undefined && !(value > 0 && value < 1))
      throw inField(field, badRequest(`${field} must be a number between 0 and 1, both excluded`));
  }
  if (coverage === undefined) return;
  const why = (message: string) => inField('coverage', badRequest(message));
  if (setting.policy === 'off') throw why('coverage needs a calibration, and TRUST_POLICY=off uses none');
  if (setting.calibration === undefined) throw why('coverage needs a calibration, and this model has none (docs/trust.md)');
  if (promptSet === undefined)
    throw why('coverage needs a calibrated prompt set: inline labels were never calibrated, so no coverage can be promised');
  const set = setting.calibration.promptSets.get(promptSet);
  if (set === undefined) throw why(`prompt set "${promptSet}" has no calibration, so no coverage can be promised`);
  const n = set.scores.length;
  if (coverage > maxCoverage(n))
    throw why(`coverage ${coverage} is more than ${n} calibration images can promise (at most n/(n+1) = ${maxCoverage(n).toFixed(6)})`);
}

/** The temperature a classification's probabilities use: its prompt set's, the model-level one for other labels, 1 without calibration. */
export function temperatureOf(setting: TrustSetting, promptSet: string | undefined): number {
  const calibration = setting.policy === 'off' ? undefined : setting.calibration;
  const set = promptSet === undefined ? undefined : calibration?.promptSets.get(promptSet);
  return set?.temperature ?? calibration?.temperature ?? 1;
}

/** The classification of one image embedding against the classes, with its trust fields. */
export function trustedClassification(
  imageEmbedding: Float32Array,
  classEmbeddings: Float32Array[],
  labels: LabelSpec[],
  promptSet: string | undefined,
  setting: TrustSetting,
  request: TrustRequest,
): TrustedClassification {
  const calibration = setting.policy === 'off' ? undefined : setting.calibration;
  const setCalibration = promptSet === undefined ? undefined : calibration?.promptSets.get(promptSet);
  const temperature = temperatureOf(setting, promptSet);
  const predictions = classify(imageEmbedding, classEmbeddings, labels, setting.logitScale / temperature);
  if (calibration === undefined) {
    return { predictions, abstained: null, outOfDistribution: null, calibration: null, ...predictionSetField(request, null) };
  }
  const ood = { score: mahalanobisScore(imageEmbedding, calibration.ood), threshold: calibration.ood.threshold };
  const top = predictions[0]?.probability ?? 0;
  let abstained: Abstention | null = null;
  if (setting.policy === 'abstain') {
    if (ood.score > ood.threshold) abstained = { reason: 'out_of_distribution', ...ood };
    else if (request.minProbability !== undefined && top < request.minProbability)
      abstained = { reason: 'low_confidence', score: top, threshold: request.minProbability };
  }
  const threshold =
    setCalibration === undefined || request.coverage === undefined
      ? undefined
      : conformalThreshold(setCalibration.scores, request.coverage);
  const set =
    abstained === null && threshold !== undefined ? { coverage: request.coverage!, labels: predictionSet(predictions, threshold) } : null;
  return {
    predictions,
    abstained,
    outOfDistribution: ood,
    calibration: { id: calibration.id, temperature },
    ...predictionSetField(request, set),
  };
}

function predictionSetField(request: TrustRequest, set: { coverage: number; labels: string[] } | null): { predictionSet?: typeof set } {
  return request.coverage === undefined ? {} : { predictionSet: set };
}
