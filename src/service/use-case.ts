/** What every use case is given besides its input: how to pick a model, the service's parts, the work's context. */
import type { DicomwebSources } from '../dicomweb/sources.ts';
import type { ServedModel } from '../models/types.ts';
import type { ClassLimits } from './classes.ts';
import type { DecodeServices } from './model-inputs.ts';
import type { OutputQuality } from './output-quality.ts';
import type { SeriesDeps } from './series.ts';
import type { TrustPolicy } from '../zeroshot/trusted-answer.ts';

/**
 * The model a use case runs, by id (the default without one). The HTTP side also checks that the caller may use
 * it and names it in the answer; a background job picks from the registry.
 */
export type ModelChooser = (id: string | undefined) => ServedModel;

/** The service's parts the use cases run on, built once at start. */
export interface UseCaseServices {
  limits: ClassLimits & { bodyBytes: number; textsPerRequest: number };
  decoding: DecodeServices;
  sources: DicomwebSources;
  series: SeriesDeps;
  /** TRUST_POLICY (docs/trust.md). */
  trustPolicy: TrustPolicy;
  /** Where every classification's output quality is counted (metrics; docs/operations.md "Output quality"). */
  outputQuality: OutputQuality;
}
