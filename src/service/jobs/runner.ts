/**
 * The background loop that runs queued jobs, at most `concurrency` at once: claims the oldest due job, runs it,
 * and records its result; a DICOMweb source that is unreachable or slow (upstream_unavailable, upstream_timeout,
 * or no model loaded yet) is tried again after an exponential backoff up to `maxAttempts`, any other error fails
 * the job at once. At start, jobs left running by a process that died (their lease ended) are queued again.
 * `events` says when a job settles ('settled': id, status) or is retried ('retry': id) — never with a UID.
 */
import { EventEmitter } from 'node:events';
import type { JobsConfig } from '../../config/jobs.ts';
import { ServiceError } from '../../errors.ts';
import type { JobRow, JobStore } from './store.ts';

const RETRYABLE = new Set(['upstream_unavailable', 'upstream_timeout', 'not_ready']);
/** How often finished jobs past their retention are deleted. */
const SWEEP_MS = 60_000;

/** Runs one job: its JSON-able result, or throws. `signal` aborts when the runner closes. */
export type JobWork = (job: JobRow, signal: AbortSignal) => Promise<unknown>;

export interface RunnerLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export class JobRunner {
  readonly events = new EventEmitter();
  readonly #store: JobStore;
  readonly #config: JobsConfig;
  readonly #work: JobWork;
  readonly #log: RunnerLog;
  readonly #abort = new AbortController();
  readonly #running = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #lastSweep = 0;
  #started = false;

  constructor(store: JobStore, config: JobsConfig, work: JobWork, log: RunnerLog) {
    this.#store = store;
    this.#config = config;
    this.#work = work;
    this.#log = log;
  }

  start(): void {
    const requeued = this.#store.requeueExpired(Date.now());
    if (requeued > 0) this.#log.info({ requeued }, 'jobs left running by an earlier process were queued again');
    this.#started = true;
    this.wake();
  }

  /** Looks for due jobs now (after a job is queued, or one settles). */
  wake(): void {
    if (!this.#started || this.#abort.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    if (now - this.#lastSweep >= SWEEP_MS) {
      this.#lastSweep = now;
      this.#store.deleteFinished(now - this.#config.retentionMs);
    }
    while (this.#running.size < this.#config.concurrency) {
      const job = this.#store.claim(now, now + this.#config.leaseMs);
      if (job === undefined) break;
      const run = this.#run(job).finally(() => {
        this.#running.delete(job.id);
        this.wake();
      });
      this.#running.set(job.id, run);
    }
    const due = this.#store.nextDue();
    const wait = Math.min(due === undefined ? SWEEP_MS : Math.max(0, due - now), SWEEP_MS);
    if (this.#running.size < this.#config.concurrency || due === undefined) this.#timer = setTimeout(() => this.wake(), wait).unref();
  }

  /** Stops claiming, aborts the jobs in progress and queues them again for the next start. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await Promise.allSettled(this.#running.values());
  }

  async #run(job: JobRow): Promise<void> {
    try {
      const result = await this.#work(job, this.#abort.signal);
      this.#store.finish(job.id, { status: 'done', result }, Date.now());
      this.events.emit('settled', job.id, 'done');
    } catch (error) {
      if (this.#abort.signal.aborted) {
        this.#store.retry(job.id, Date.now(), undefined);
        return;
      }
      const reason =
        error instanceof ServiceError
          ? { code: error.code, message: error.message }
          : { code: 'internal_error', message: 'the job failed unexpectedly' };
      if (!(error instanceof ServiceError))
        this.#log.warn({ job: job.id, error: error instanceof Error ? error.name : typeof error }, 'a job failed unexpectedly');
      if (RETRYABLE.has(reason.code) && job.attempts < this.#config.maxAttempts) {
        const backoff = this.#config.backoffMs * 2 ** (job.attempts - 1);
        this.#store.retry(job.id, Date.now() + backoff, reason);
        this.events.emit('retry', job.id);
        return;
      }
      this.#store.finish(job.id, { status: 'failed', error: reason }, Date.now());
      this.events.emit('settled', job.id, 'failed');
    }
  }
}
