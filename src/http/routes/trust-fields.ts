import type { TrustedClassification } from '../../zeroshot/trusted-answer.ts';

/** The trust fields of a classification answer as the API names them (docs/trust.md, openapi.yaml ClassifyResponse). */
export function trustFields(trust: Omit<TrustedClassification, 'predictions'>): Record<string, unknown> {
  return {
    abstained: trust.abstained,
    out_of_distribution: trust.outOfDistribution,
    calibration: trust.calibration,
    ...(trust.predictionSet === undefined ? {} : { prediction_set: trust.predictionSet }),
  };
}
