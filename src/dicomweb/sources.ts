/**
 * The configured DICOMweb sources, as the routes use them: retrieve one instance (WADO-RS) as stored, list a
 * series' instances (QIDO-RS). Only a source named in DICOMWEB_SOURCES is contacted; every answer is counted per
 * source (requests, failures, bytes, latency). No UID reaches a message, a metric label or a log line.
 */
import type { DicomwebConfig, DicomwebSource } from '../config/dicomweb.ts';
import { badRequest } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { getFromSource, SourceRequestError, sourceUrl, type OutgoingCall, type SourceResponse } from './client.ts';
import { dicomNotFound, upstreamUnavailable } from './errors.ts';
import { mediaType, MultipartError, parseMultipartRelated } from './multipart-related.ts';
import type { InstanceReference, SeriesReference } from './reference.ts';
import { seriesListing, type ListedInstance } from './qido.ts';
import { Slots } from './slots.ts';

/** As stored: `transfer-syntax=*` asks the PACS not to transcode, so the bytes are those an upload would carry. */
const INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const QIDO_ACCEPT = 'application/dicom+json';
const DICOM = 'application/dicom';

export type { ListedInstance } from './qido.ts';

export class DicomwebSources {
  readonly #sources: ReadonlyMap<string, { source: DicomwebSource; slots: Slots }>;
  readonly #metrics: Metrics;

  constructor(config: DicomwebConfig, metrics: Metrics) {
    const waiting = (name: string) => (count: number) => metrics.dicomwebWaiting.set({ source: name }, count);
    this.#sources = new Map(
      [...config.sources].map(([name, source]) => [name, { source, slots: new Slots(source.concurrency, waiting(name)) }]),
    );
    this.#metrics = metrics;
  }

  /** How many requests the source takes at once (its `concurrency`). */
  concurrencyOf(name: string): number {
    return this.#named(name).source.concurrency;
  }

  /** Retrieves an instance; `maxBytes` bounds the answer (MAX_BODY_BYTES, less what the request already holds). */
  async retrieveInstance(reference: InstanceReference, cancellation: OutgoingCall, maxBytes: number): Promise<Buffer> {
    const { source } = this.#named(reference.source);
    const path = `studies/${reference.study}/series/${reference.series}/instances/${reference.instance}`;
    const response = await this.#get(reference.source, sourceUrl(source, path), INSTANCE_ACCEPT, cancellation, maxBytes);
    this.#check(source.name, response, 'instance');
    const { type } = mediaType(response.contentType);
    if (type === DICOM) return response.body;
    try {
      const part = parseMultipartRelated(response.body, response.contentType, 16).find((p) => p.type === DICOM || p.type === '');
      if (part !== undefined) return part.data;
    } catch (error) {
      if (!(error instanceof MultipartError)) throw error;
    }
    this.#metrics.dicomwebFailures.inc({ source: source.name, reason: 'malformed' });
    throw upstreamUnavailable(source.name, 'answered without a DICOM instance (not a multipart/related application/dicom body)');
  }

  /** The series' instances with the attributes that order them (QIDO-RS); 404 when the source lists none. */
  async listSeries(reference: SeriesReference, cancellation: OutgoingCall, maxBytes: number): Promise<ListedInstance[]> {
    const { source } = this.#named(reference.source);
    const url = sourceUrl(source, `studies/${reference.study}/series/${reference.series}/instances`);
    url.search = 'includefield=00200013&includefield=00200032';
    const response = await this.#get(reference.source, url, QIDO_ACCEPT, cancellation, maxBytes);
    if (response.status === 204) throw dicomNotFound(source.name, 'series');
    this.#check(source.name, response, 'series');
    const listed = seriesListing(response.body);
    if (listed === undefined) {
      this.#metrics.dicomwebFailures.inc({ source: source.name, reason: 'malformed' });
      throw upstreamUnavailable(source.name, 'answered a series query with something other than a DICOM JSON list of instances');
    }
    if (listed.length === 0) throw dicomNotFound(source.name, 'series');
    return listed;
  }

  #named(name: string): { source: DicomwebSource; slots: Slots } {
    const named = this.#sources.get(name);
    // The configured names are not listed: a caller learns of no source it was not told about.
    if (named === undefined) throw badRequest(`"${name}" is not a configured DICOMweb source`);
    return named;
  }

  /** 404 is the PACS saying it has no such object; any other answer than 200 is the source failing. */
  #check(name: string, response: SourceResponse, what: string): void {
    if (response.status === 200) return;
    if (response.status === 404) throw dicomNotFound(name, what);
    const refused = response.status === 401 || response.status === 403;
    this.#metrics.dicomwebFailures.inc({ source: name, reason: refused ? 'refused' : 'status' });
    if (refused) throw upstreamUnavailable(name, `refused the service's credentials (HTTP ${response.status})`);
    throw upstreamUnavailable(
      name,
      `answered HTTP ${response.status}${response.status >= 300 && response.status < 400 ? ' (redirects are not followed)' : ''}`,
    );
  }

  async #get(name: string, url: URL, accept: string, cancellation: OutgoingCall, maxBytes: number): Promise<SourceResponse> {
    const { source, slots } = this.#named(name);
    const release = await slots.acquire(cancellation);
    const labels = { source: source.name };
    const stop = this.#metrics.dicomwebDuration.startTimer(labels);
    this.#metrics.dicomwebRequests.inc(labels);
    try {
      const response = await getFromSource(source, url, { accept, maxBytes, cancellation });
      this.#metrics.dicomwebBytes.inc(labels, response.body.length);
      return response;
    } catch (error) {
      if (!(error instanceof SourceRequestError)) throw error;
      this.#metrics.dicomwebFailures.inc({ ...labels, reason: error.reason });
      throw error.error;
    } finally {
      stop();
      release();
    }
  }
}
