/**
 * Storing one instance in a DICOMweb source (STOW-RS, PS3.18 10.5), idempotently: the caller stores its results again
 * after a crash, and the source must end up holding the instance once. So the source is first asked whether it holds
 * the SOP Instance UID (QIDO-RS); if it does, nothing is sent (`already_stored`: a result's UIDs are derived from what
 * determines it, so the same UID is the same result). Otherwise the instance is POSTed as a one-part
 * multipart/related body, and only a 200 that lists it in its Referenced SOP Sequence counts as `stored` at once.
 * Any other answer that is not the source failing (a 409, a 202, a Failed SOP Sequence item, even one saying
 * "duplicate" (0x0111)) is checked by asking the source again: holding it is `already_stored`, else `store_refused`.
 * (A 409 alone says little: Orthanc answers 409, Failure Reason 0x0110, for an instance of another study than the
 * URL's, even one it holds under its own.) Messages, labels and log lines name no UID.
 */
import { randomBytes } from 'node:crypto';
import { badRequest, ServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { isRecord } from '../records.ts';
import type { RequestBody, SourceResponse } from './client.ts';
import { upstreamUnavailable } from './errors.ts';
import { seriesListing } from './qido.ts';
import { isUid } from './reference.ts';

export interface StoredInstance {
  study: string;
  series: string;
  /** The SOP Instance UID the bytes carry. */
  instance: string;
  /** The Part 10 file. */
  bytes: Buffer;
}

export type StoreOutcome = 'stored' | 'already_stored';

/** One request to the destination, through its slots and metrics; `path` is under the source's base. */
export type Exchange = (request: {
  path: string;
  search?: string;
  accept: string;
  maxBytes: number;
  body?: RequestBody;
}) => Promise<SourceResponse>;

const DICOM_JSON = 'application/dicom+json';
/** A STOW-RS or QIDO-RS answer about one instance is small. */
const MAX_ANSWER_BYTES = 1024 * 1024;
/** Failure Reason 0x0111: Duplicate SOP Instance (PS3.4 Annex C). */
const DUPLICATE = 0x0111;
/** 4xx answers of a source failing for now (credentials, a timeout, a rate limit), not refusing the instance. */
const TRANSIENT = new Set([401, 403, 407, 408, 429]);

/** 400 unless the UIDs are DICOM UIDs (they become URL segments). */
export function checkStoredInstance(instance: StoredInstance): void {
  if (![instance.study, instance.series, instance.instance].every(isUid))
    throw badRequest('an instance to store needs DICOM UIDs (digits and dots, at most 64 characters)');
}

/** The destination refused the instance (a 4xx that is not a duplicate it holds): sending it again will not help. */
export const storeRefused = (source: string, why: string): ServiceError =>
  new ServiceError('store_refused', `DICOMweb source "${source}" refused to store the instance (${why})`);

export async function stowInstance(name: string, instance: StoredInstance, metrics: Metrics, exchange: Exchange): Promise<StoreOutcome> {
  const count = (outcome: StoreOutcome | 'failed'): void => metrics.srStores.inc({ destination: name, outcome });
  try {
    const outcome = await store(name, instance, metrics, exchange);
    count(outcome);
    return outcome;
  } catch (error) {
    count('failed');
    throw error;
  }
}

async function store(name: string, instance: StoredInstance, metrics: Metrics, exchange: Exchange): Promise<StoreOutcome> {
  const failed = (reason: 'refused' | 'status' | 'malformed'): void => metrics.dicomwebFailures.inc({ source: name, reason });
  const holds = async (): Promise<boolean> => {
    const response = await exchange({
      path: `studies/${instance.study}/series/${instance.series}/instances`,
      search: `SOPInstanceUID=${instance.instance}`,
      accept: DICOM_JSON,
      maxBytes: MAX_ANSWER_BYTES,
    });
    if (response.status === 204 || response.status === 404) return false;
    if (response.status !== 200) throw sourceFailed(name, response.status, failed);
    const listed = seriesListing(response.body);
    if (listed !== undefined) return listed.some((entry) => entry.uid === instance.instance);
    failed('malformed');
    throw upstreamUnavailable(name, 'answered an instance query with something other than a DICOM JSON list of instances');
  };
  if (await holds()) return 'already_stored';
  const boundary = boundaryFor(instance.bytes);
  const response = await exchange({
    path: `studies/${instance.study}`,
    accept: DICOM_JSON,
    maxBytes: MAX_ANSWER_BYTES,
    body: {
      contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
      bytes: Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
        instance.bytes,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]),
    },
  });
  const { status } = response;
  if (status < 200 || (status >= 300 && status < 400) || status >= 500 || TRANSIENT.has(status)) throw sourceFailed(name, status, failed);
  const answer = stowAnswer(response.body, instance.instance);
  if (status === 200 && answer.referenced && !answer.failed) return 'stored';
  // A duplicate, a conflict, a partial success or an answer that says nothing of the instance: does the source hold it?
  if (await holds()) return 'already_stored';
  const { reason } = answer;
  const why = reason === undefined ? '' : `, failure reason 0x${reason.toString(16).padStart(4, '0')}`;
  throw storeRefused(name, `HTTP ${status}${why}${reason === DUPLICATE ? ': a duplicate, yet the source does not list it' : ''}`);
}

/** The source failing rather than refusing the instance: the caller may try again later (upstream_unavailable). */
function sourceFailed(name: string, status: number, failed: (reason: 'refused' | 'status') => void): ServiceError {
  const refused = status === 401 || status === 403 || status === 407;
  failed(refused ? 'refused' : 'status');
  if (refused) return upstreamUnavailable(name, `refused the service's credentials (HTTP ${status})`);
  return upstreamUnavailable(name, `answered HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`);
}

/** A random boundary that the bytes do not contain. */
function boundaryFor(bytes: Buffer): string {
  for (;;) {
    const boundary = `unimed-${randomBytes(16).toString('hex')}`;
    if (!bytes.includes(boundary)) return boundary;
  }
}

function items(dataset: Record<string, unknown>, tag: string): Record<string, unknown>[] {
  const element = dataset[tag];
  return isRecord(element) && Array.isArray(element.Value) ? element.Value.filter(isRecord) : [];
}

function first(dataset: Record<string, unknown>, tag: string): unknown {
  const element = dataset[tag];
  return isRecord(element) && Array.isArray(element.Value) ? element.Value[0] : undefined;
}

/**
 * What a STOW-RS answer (DICOM JSON) says of one instance: listed in the Referenced SOP Sequence (0008,1199), and the
 * Failure Reason (0008,1197) of its Failed SOP Sequence (0008,1198) item. An answer that is not DICOM JSON says nothing.
 */
export function stowAnswer(body: Buffer, uid: string): { referenced: boolean; failed: boolean; reason: number | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!isRecord(parsed)) return { referenced: false, failed: false, reason: undefined };
  const ours = (item: Record<string, unknown>): boolean => first(item, '00081155') === uid;
  const failedItem = items(parsed, '00081198').find(ours);
  const reason = failedItem === undefined ? undefined : first(failedItem, '00081197');
  return {
    referenced: items(parsed, '00081199').some(ours),
    failed: failedItem !== undefined,
    reason: typeof reason === 'number' && Number.isInteger(reason) && reason >= 0 && reason <= 0xffff ? reason : undefined,
  };
}
