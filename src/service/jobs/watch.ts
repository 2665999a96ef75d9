/**
 * A watch on a DICOMweb source (docs/pacs.md "Watching a source"): every `interval` it pages through a QIDO-RS
 * study search and creates a job for each study it has not seen, as its configured API key, through `Jobs.submit`
 * (so bounded as POST /jobs is). Its first poll only records what exists: "new" is first seen after the watch began.
 * What it has seen is kept in the job store as keyed hashes of the watch's name and the study's UID, never UIDs. A
 * job's idempotency key is `watch:<name>:<hash>`: a process that dies between creating a job and recording the
 * study, or two replicas polling at once, create one job. A source that fails, or a full queue, ends the poll;
 * the next poll tries again (a study is recorded once its job is kept). `events` says 'polled' with the counts of
 * each poll, never a UID; logs hold the watch's name and error codes only.
 */
import { EventEmitter } from 'node:events';
import type { WatchConfig } from '../../config/watches.ts';
import type { SourceAccess, SourceGrant } from '../../dicomweb/access.ts';
import type { DicomwebSources } from '../../dicomweb/sources.ts';
import { ServiceError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import type { Jobs } from './jobs.ts';
import type { RunnerLog } from './runner.ts';
import type { JobStore } from './store.ts';
import type { JobRequest } from './work.ts';

export type PollOutcome = 'began' | 'ok' | 'truncated' | 'source_failed' | 'limited' | 'refused' | 'failed';

export interface PollResult {
  outcome: PollOutcome;
  /** QIDO-RS pages read, studies listed, jobs created (an existing job for the study is not counted). */
  pages: number;
  studies: number;
  created: number;
  /** The error code that ended the poll early. */
  code?: string;
}

export interface WatchDeps {
  store: JobStore;
  jobs: Pick<Jobs, 'submit'>;
  sources: Pick<DicomwebSources, 'searchStudies'>;
  /** The jobs' keyed hash (JobCipher.fingerprint). */
  fingerprint: (text: string) => string;
  /** Refuses a job the watch's key could not create through POST /jobs (its model, prompt set, limits). */
  check: (request: JobRequest) => void;
  /** Where each request to the source is recorded (the audit log). */
  record: (access: SourceAccess) => void;
  metrics: Pick<Metrics, 'watchPolls' | 'watchJobsCreated'>;
  log: RunnerLog;
}

const LIMITED = new Set(['rate_limited', 'queue_full']);

/** Ends a poll early: why, for its outcome and the log line. */
class PollStop extends Error {
  readonly outcome: PollOutcome;
  readonly code: string;

  constructor(outcome: PollOutcome, code: string) {
    super(code);
    this.outcome = outcome;
    this.code = code;
  }
}

const codeOf = (error: unknown): string =>
  error instanceof ServiceError ? error.code : error instanceof Error ? error.name : typeof error;

export class Watch {
  readonly events = new EventEmitter();
  readonly config: WatchConfig;
  readonly #deps: WatchDeps;
  readonly #abort = new AbortController();
  readonly #grant: SourceGrant;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<PollResult> | undefined;

  constructor(config: WatchConfig, deps: WatchDeps) {
    this.config = config;
    this.#deps = deps;
    this.#grant = { allowed: config.sources.includes('*') ? 'all' : new Set(config.sources), record: deps.record };
  }

  /** Polls now, then every interval after each poll ends. */
  start(): void {
    void this.#tick();
  }

  /** Stops the timer and waits for a poll in progress (its source request is aborted). */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#polling;
  }

  /** One poll (what the timer runs); while one is in progress, that one. Never throws: the outcome says what happened. */
  pollOnce(): Promise<PollResult> {
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #tick(): Promise<void> {
    await this.pollOnce();
    if (!this.#abort.signal.aborted) this.#timer = setTimeout(() => void this.#tick(), this.config.intervalMs).unref();
  }

  async #poll(): Promise<PollResult> {
    const { name } = this.config;
    const result: PollResult = { outcome: 'ok', pages: 0, studies: 0, created: 0 };
    try {
      const begun = await this.#deps.store.watchBegun(name);
      const complete = await this.#pages(begun, result);
      if (!begun) await this.#deps.store.beginWatch(name, Date.now());
      result.outcome = !complete ? 'truncated' : begun ? 'ok' : 'began';
    } catch (error) {
      const stop = error instanceof PollStop ? error : new PollStop('failed', codeOf(error));
      result.outcome = stop.outcome;
      result.code = stop.code;
      if (!this.#abort.signal.aborted)
        this.#deps.log.warn({ watch: name, outcome: stop.outcome, code: stop.code }, 'a watch poll ended early');
    }
    this.#deps.metrics.watchPolls.inc({ watch: name, outcome: result.outcome });
    this.events.emit('polled', result);
    return result;
  }

  /** Pages through the search; false when it stopped at max_pages with more to read. */
  async #pages(begun: boolean, result: PollResult): Promise<boolean> {
    const { name, source, filters, pageSize, maxPages } = this.config;
    for (let page = 0; page < maxPages; page++) {
      let uids: string[];
      try {
        const call = { sourceGrant: this.#grant, signal: this.#abort.signal };
        uids = await this.#deps.sources.searchStudies(source, filters, { limit: pageSize, offset: page * pageSize }, call);
      } catch (error) {
        throw new PollStop('source_failed', codeOf(error));
      }
      result.pages++;
      result.studies += uids.length;
      const hashes = new Map(uids.map((uid) => [this.#deps.fingerprint(`${name}\n${uid}`), uid]));
      if (!begun) await this.#deps.store.markSeen(name, [...hashes.keys()], Date.now());
      else for (const hash of await this.#deps.store.unseen(name, [...hashes.keys()])) await this.#create(hash, hashes.get(hash)!, result);
      if (uids.length < pageSize) return true;
    }
    this.#deps.log.warn({ watch: name, max_pages: maxPages }, 'a watch poll stopped at max_pages: the search lists more studies');
    return false;
  }

  async #create(hash: string, study: string, result: PollResult): Promise<void> {
    const { name, keyId, sources, source, job } = this.config;
    const request: JobRequest = { source, study, ...job };
    try {
      this.#deps.check(request);
      const { created } = await this.#deps.jobs.submit({ keyId, sources, idempotencyKey: `watch:${name}:${hash}`, request });
      if (created) {
        result.created++;
        this.#deps.metrics.watchJobsCreated.inc({ watch: name });
      }
    } catch (error) {
      // A job of this study kept with other job fields (the configuration changed since): the study has its job.
      if (!(error instanceof ServiceError && error.code === 'conflict')) {
        const code = codeOf(error);
        throw new PollStop(LIMITED.has(code) ? 'limited' : error instanceof ServiceError ? 'refused' : 'failed', code);
      }
    }
    await this.#deps.store.markSeen(name, [hash], Date.now());
  }
}
