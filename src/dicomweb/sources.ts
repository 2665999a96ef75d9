/**
 * The configured DICOMweb sources, as the routes use them: retrieve one instance (WADO-RS) as stored, list a
 * series' instances (QIDO-RS), store a result (STOW-RS, stow.ts). Only a source named in DICOMWEB_SOURCES is
 * contacted; every answer is counted per source (requests, failures, bytes, latency). No UID reaches a message, a metric label or a log line.
 */
import type { DicomwebConfig, DicomwebSource } from '../config/dicomweb.ts';
import { badRequest, ServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { requestSource, SourceRequestError, sourceUrl, type OutgoingCall, type RequestBody, type SourceResponse } from './client.ts';
import { checkGrant, NO_SOURCES, type SourceAccess, type SourceGrant } from './access.ts';
import { dicomNotFound, upstreamUnavailable } from './errors.ts';
import { mediaType, MultipartError, parseMultipartRelated } from './multipart-related.ts';
import type { InstanceReference, SeriesReference } from './reference.ts';
import { seriesListing, studySeriesListing, type ListedInstance } from './qido.ts';
import { studyListing, studyPageBytes, studySearchQuery, type StudyPage } from './study-search.ts';
import type { StudyFilters } from '../config/watches.ts';
import { Slots } from './slots.ts';
import { checkStoredInstance, stowInstance, type StoredInstance, type StoreOutcome } from './stow.ts';

/** As stored: `transfer-syntax=*` asks the PACS not to transcode, so the bytes are those an upload would carry. */
const INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const QIDO_ACCEPT = 'application/dicom+json';
const DICOM = 'application/dicom';

export type { ListedInstance } from './qido.ts';

/** A request made for a caller: its cancellation and trace, and the sources it may reach (none without a grant). */
export type SourceCall = OutgoingCall & { readonly sourceGrant?: SourceGrant };

/** What became of a request to a source, for the access record. */
function outcomeOf(error: unknown): SourceAccess['outcome'] {
  return error instanceof ServiceError && error.code === 'dicom_not_found' ? 'not_found' : 'failed';
}

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

  /** 403 unless the call's grant names the source, then 400 unless it is configured: nothing is contacted. */
  authorize(name: string, call: SourceCall): void {
    checkGrant(call.sourceGrant ?? NO_SOURCES, name);
    this.#named(name);
  }

  /**
   * Retrieves an instance; `maxBytes` bounds the answer (MAX_BODY_BYTES, less what the request already holds). The
   * access is recorded with the call's grant, whatever its outcome.
   */
  async retrieveInstance(reference: InstanceReference, call: SourceCall, maxBytes: number): Promise<Buffer> {
    this.authorize(reference.source, call);
    const { source, study, series, instance } = reference;
    return recorded(call, { source, operation: 'retrieve', study, series, instance }, () => this.#retrieve(reference, call, maxBytes));
  }

  /** The series' instances with the attributes that order them (QIDO-RS); 404 when the source lists none. */
  async listSeries(reference: SeriesReference, call: SourceCall, maxBytes: number): Promise<ListedInstance[]> {
    this.authorize(reference.source, call);
    const { source, study, series } = reference;
    return recorded(call, { source, operation: 'list', study, series }, () => this.#list(reference, call, maxBytes));
  }

  /** The study's image series (QIDO-RS; SRs and other non-image series left out), at most `maxSeries` (400 past it); 404 when it has none. */
  async listStudySeries(source: string, study: string, call: SourceCall, maxSeries: number): Promise<string[]> {
    this.authorize(source, call);
    return recorded(call, { source, operation: 'list', study }, async () => {
      const named = this.#named(source).source;
      const url = sourceUrl(named, `studies/${study}/series`);
      url.search = 'includefield=0020000E&includefield=00080060';
      const response = await this.#send(source, url, QIDO_ACCEPT, call, 1024 * 1024);
      if (response.status === 204) throw dicomNotFound(source, 'study');
      this.#check(source, response, 'study');
      const listed = studySeriesListing(response.body);
      if (listed === undefined) {
        this.#metrics.dicomwebFailures.inc({ source, reason: 'malformed' });
        throw upstreamUnavailable(source, 'answered a study query with something other than a DICOM JSON list of series');
      }
      if (listed.length === 0) throw dicomNotFound(source, 'study');
      if (listed.length > maxSeries) throw badRequest(`the study has ${listed.length} series, MAX_STUDY_SERIES allows ${maxSeries}`);
      return listed;
    });
  }

  /** Stores an instance in `destination` (STOW-RS) unless it holds it already (stow.ts); one `store` access record. */
  async storeInstance(destination: string, instance: StoredInstance, call: SourceCall): Promise<StoreOutcome> {
    this.authorize(destination, call);
    checkStoredInstance(instance);
    const { study, series } = instance;
    const base = this.#named(destination).source;
    return recorded(call, { source: destination, operation: 'store', study, series, instance: instance.instance }, () =>
      stowInstance(destination, instance, this.#metrics, ({ path, search, accept, maxBytes, body }) => {
        const url = sourceUrl(base, path);
        url.search = search ?? '';
        return this.#send(destination, url, accept, call, maxBytes, body);
      }),
    );
  }

  /** One page of a QIDO-RS study search (study-search.ts): the matching studies' UIDs, none when it lists none. */
  async searchStudies(source: string, filters: StudyFilters, page: StudyPage, call: SourceCall): Promise<string[]> {
    this.authorize(source, call);
    return recorded(call, { source, operation: 'search' }, async () => {
      const url = sourceUrl(this.#named(source).source, 'studies');
      url.search = studySearchQuery(filters, page);
      const response = await this.#send(source, url, QIDO_ACCEPT, call, studyPageBytes(page.limit));
      if (response.status === 204) return [];
      this.#check(source, response, 'study list');
      const listed = studyListing(response.body);
      if (listed !== undefined) return listed;
      this.#metrics.dicomwebFailures.inc({ source, reason: 'malformed' });
      throw upstreamUnavailable(source, 'answered a study search with something other than a DICOM JSON list of studies');
    });
  }

  async #retrieve(reference: InstanceReference, cancellation: OutgoingCall, maxBytes: number): Promise<Buffer> {
    const { source } = this.#named(reference.source);
    const path = `studies/${reference.study}/series/${reference.series}/instances/${reference.instance}`;
    const response = await this.#send(reference.source, sourceUrl(source, path), INSTANCE_ACCEPT, cancellation, maxBytes);
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

  async #list(reference: SeriesReference, cancellation: OutgoingCall, maxBytes: number): Promise<ListedInstance[]> {
    const { source } = this.#named(reference.source);
    const url = sourceUrl(source, `studies/${reference.study}/series/${reference.series}/instances`);
    url.search = 'includefield=00200013&includefield=00200032';
    const response = await this.#send(reference.source, url, QIDO_ACCEPT, cancellation, maxBytes);
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

  async #send(
    name: string,
    url: URL,
    accept: string,
    cancellation: OutgoingCall,
    maxBytes: number,
    body?: RequestBody,
  ): Promise<SourceResponse> {
    const { source, slots } = this.#named(name);
    const release = await slots.acquire(cancellation);
    const labels = { source: source.name };
    const stop = this.#metrics.dicomwebDuration.startTimer(labels);
    this.#metrics.dicomwebRequests.inc(labels);
    try {
      const response = await requestSource(source, url, { accept, maxBytes, cancellation, ...(body === undefined ? {} : { body }) });
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

/** Runs one request to a source and reports it to the call's grant once it ended. */
async function recorded<T>(call: SourceCall, access: Omit<SourceAccess, 'outcome'>, request: () => Promise<T>): Promise<T> {
  const grant = call.sourceGrant ?? NO_SOURCES;
  try {
    const result = await request();
    grant.record({ ...access, outcome: 'ok' });
    return result;
  } catch (error) {
    grant.record({ ...access, outcome: outcomeOf(error) });
    throw error;
  }
}
