/**
 * Classifications as DICOM SRs (dicom-sr/): what the use cases read from the evaluated instances for one, and the
 * SR made of a classification's result. The use cases read the instances only when the caller asks for a report.
 */
import { sniffImageFormat } from '../inputs/format.ts';
import { ServiceError } from '../errors.ts';
import type { EvaluatedInstance } from '../dicom-sr/content.ts';
import { classificationReport, classificationReportUids, type ReportInput } from '../dicom-sr/report.ts';
import { readSourceInstance } from '../dicom-sr/source.ts';
import type { EvaluationKey, ReportUids } from '../dicom-sr/uids.ts';
import type { ImageOptions } from '../inputs/decode.ts';
import type { Prediction, ServedModel } from '../models/types.ts';
import { SERVICE_VERSION } from '../version.ts';
import type { Classes } from './classes.ts';
import type { GivenImage, RequestImage } from './images.ts';
import type { TrustedClassification, TrustPolicy } from '../zeroshot/trusted-answer.ts';

export type { EvaluatedInstance } from '../dicom-sr/content.ts';

/** Refuses (406), before anything is decoded or retrieved, an uploaded image that is not DICOM: an SR references DICOM instances. */
export function checkReportable(image: GivenImage): void {
  if ('reference' in image || image.declaredDicom === true || sniffImageFormat(image.bytes).kind === 'dicom') return;
  throw new ServiceError(
    'not_acceptable',
    'a DICOM SR (Accept: application/dicom) can be made only of a DICOM input: send a DICOM instance, or ask for JSON',
  );
}

/** The evaluated instance of an image, with its frame (1-based) when the request named one. */
export function evaluatedImage(image: RequestImage, rendering: ImageOptions): EvaluatedInstance {
  const frame = image.frame ?? rendering.frame;
  return { source: readSourceInstance(image.bytes), ...(frame === undefined ? {} : { frame: frame + 1 }) };
}

export { readSourceInstance };

/** What a report is made of: the classification's result and what determined it. */
export interface ReportRequest {
  model: ServedModel;
  classes: Pick<Classes, 'labels' | 'promptSet' | 'templates'>;
  predictions: Prediction[];
  /** The answer's abstention, prediction set and calibration, and the policy that decided (docs/trust.md). */
  trust: Omit<TrustedClassification, 'predictions'>;
  policy: TrustPolicy;
  instances: EvaluatedInstance[];
  rendering: ImageOptions;
}

/** The SR of a classification (Part 10 bytes); Content Date/Time are `createdAt`. */
export function reportOf(request: ReportRequest, createdAt = new Date()): Buffer {
  return classificationReport(reportInput(request, createdAt));
}

/**
 * The SR of a classification and its UIDs, to store it: the same evaluation always gets the same UIDs (only the
 * Content Date/Time differ), so storing it again is storing the same instance.
 */
export function reportToStore(request: ReportRequest, createdAt = new Date()): { bytes: Buffer; uids: ReportUids } {
  const input = reportInput(request, createdAt);
  return { bytes: classificationReport(input), uids: classificationReportUids(input) };
}

function reportInput(request: ReportRequest, createdAt: Date): ReportInput {
  const { model, classes } = request;
  const keyClasses: EvaluationKey['classes'] =
    classes.promptSet === undefined ? { labels: classes.labels, templates: classes.templates ?? [] } : { promptSet: classes.promptSet };
  return {
    model: { id: model.id, sha256: model.sha256 },
    promptSet: classes.promptSet,
    predictions: request.predictions,
    instances: request.instances,
    classes: keyClasses,
    rendering: { ...request.rendering },
    serviceVersion: SERVICE_VERSION,
    createdAt,
    ...reportTrust(request),
  };
}

/** A calibrated answer's parts of the report, and of its UIDs (a changed calibration, policy or coverage is a new evaluation). */
function reportTrust({
  trust,
  policy,
}: ReportRequest): Pick<ReportInput, 'abstention' | 'predictionSet' | 'calibrationId' | 'policy' | 'coverage'> {
  if (trust.calibration === null) return {};
  return {
    abstention: { abstained: trust.abstained !== null },
    calibrationId: trust.calibration.id,
    policy,
    ...(trust.predictionSet === undefined || trust.predictionSet === null
      ? {}
      : { predictionSet: trust.predictionSet.labels, coverage: trust.predictionSet.coverage }),
  };
}
