/** How a DICOMweb source failed, as ServiceErrors: they name the source, never its URL, credentials or a UID. */
import { ServiceError } from '../errors.ts';

/** The source is unreachable, refused the credentials, or answered something that is not DICOMweb. */
export const upstreamUnavailable = (source: string, why: string): ServiceError =>
  new ServiceError('upstream_unavailable', `DICOMweb source "${source}" ${why}`);

/** The source answered that it has no such study, series or instance. */
export const dicomNotFound = (source: string, what: string): ServiceError =>
  new ServiceError('dicom_not_found', `DICOMweb source "${source}" has no such ${what}`);

/** The source did not answer within its timeout_ms. */
export const upstreamTimeout = (source: string, ms: number): ServiceError =>
  new ServiceError('upstream_timeout', `DICOMweb source "${source}" did not answer within its timeout (${ms} ms)`);
