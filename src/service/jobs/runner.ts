/**
 * The background loop that runs queued jobs, at most `concurrency` at once: claims the oldest due job, runs it,
 * and records its result; a DICOMweb source that is unreachable or slow (upstream_unavailable, upstream_timeout,
 * or no model loaded yet) is tried again after an exponential backoff up to `maxAttempts`, any other error fails
 * the job at once. While a job runs its lease is renewed every third of JOBS_LEASE_MS; a job whose runner died
 * (its lease ended) is claimed again by whichever runner looks next, this process after a restart or another
 * replica. A runner that lost its lease (it stalled past it) drops the job's outcome: the new owner settles it.
 * `events` says when a job settles ('settled': id, status) or is retried ('retry': id) — never with a UID.
 */
import { EventEmitter } from 'node:events';
import type { JobsConfig } from '../../config/jobs.ts';
import { ServiceError } from '../../errors.ts';
import type { ClaimedJob, JobError, JobRow, JobStore } from './store.ts';

const RETRYABLE = new Set(['upstream_unavailable', 'upstream_timeout', 'not_ready']);
/** How often finished jobs past their retention are deleted, and the longest wait between two looks at the queue. */
const SWEEP_MS = 60_000;

/** Runs one job: its JSON-able result, or throws. `signal` aborts when the runner closes or loses the job's lease. */
export type JobWork = (job: JobRow, signal: AbortSignal) => Promise<unknown>;

export type RunnerConfig = Pick<JobsConfig, 'concurrency' | 'maxAttempts' | 'backoffMs' | 'leaseMs' | 'retentionMs'>;

export interface RunnerLog {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export class JobRunner {
  readonly events = new EventEmitter();
  readonly #store: JobStore;
  readonly #config: RunnerConfig;
  readonly #work: JobWork;
  readonly #log: RunnerLog;
  readonly #abort = new AbortController();
  readonly #running = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #lastSweep = 0;
  #started = false;
  /** A look at the queue in progress, and whether another was asked for meanwhile. */
  #looking: Promise<void> | undefined;
  #lookAgain = false;

  constructor(store: JobStore, config: RunnerConfig, work: JobWork, log: RunnerLog) {
    this.#store = store;
    this.#config = config;
    this.#work = work;
    this.#log = log;
  }

  start(): void {
    this.#started = true;
    this.wake();
  }

  /** Looks for due jobs now (after a job is queued, or one settles). */
  wake(): void {
    if (!this.#started || this.#abort.signal.aborted) return;
    if (this.#looking !== undefined) {
      this.#lookAgain = true;
      return;
    }
    this.#looking = this.#look()
      .catch((error: unknown) =>
        this.#log.warn({ error: error instanceof Error ? error.name : typeof error }, 'the jobs could not be read'),
      )
      .finally(() => {
        this.#looking = undefined;
        if (this.#lookAgain) {
          this.#lookAgain = false;
          this.wake();
        } else if (this.#timer === undefined && !this.#abort.signal.aborted) {
          // The database failed: look again later rather than never.
          this.#timer = setTimeout(() => this.wake(), this.#config.backoffMs).unref();
        }
      });
  }

  /** Stops claiming, aborts the jobs in progress and queues them again for the next start. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    await this.#looking;
    await Promise.allSettled(this.#running.values());
  }

  async #look(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    if (now - this.#lastSweep >= SWEEP_MS) {
      this.#lastSweep = now;
      await this.#store.deleteFinished(now - this.#config.retentionMs);
    }
    while (this.#running.size < this.#config.concurrency && !this.#abort.signal.aborted) {
      const claimed = await this.#store.claim(Date.now(), Date.now() + this.#config.leaseMs);
      if (claimed === undefined) break;
      const { id } = claimed.row;
      const run = this.#run(claimed)
        // The store failed while settling (its database is down): the lease ends and another look takes the job again.
        .catch((error: unknown) =>
          this.#log.warn({ job: id, error: error instanceof Error ? error.name : typeof error }, 'a job could not be settled'),
        )
        .finally(() => {
          this.#running.delete(id);
          this.wake();
        });
      this.#running.set(id, run);
    }
    if (this.#abort.signal.aborted || this.#running.size >= this.#config.concurrency) return;
    // Other runners (replicas) queue jobs too: look again when the next is due, and at least every SWEEP_MS.
    const due = await this.#store.nextDue();
    const wait = Math.min(due === undefined ? SWEEP_MS : Math.max(0, due - Date.now()) + 1, SWEEP_MS);
    this.#timer = setTimeout(() => this.wake(), wait).unref();
  }

  async #run({ row: job, owner }: ClaimedJob): Promise<void> {
    if (job.attempts > this.#config.maxAttempts) {
      // Each earlier try ended with its process (a claim counts a try): a job that stops the service is not run again.
      const error = { code: 'internal_error', message: `the job's process stopped during each of its ${this.#config.maxAttempts} tries` };
      if (await this.#store.finish(job.id, owner, { status: 'failed', error }, Date.now())) this.events.emit('settled', job.id, 'failed');
      return;
    }
    const lost = new AbortController();
    const signal = AbortSignal.any([this.#abort.signal, lost.signal]);
    const renewal = setInterval(() => {
      this.#store.renew(job.id, owner, Date.now() + this.#config.leaseMs).then(
        (held) => {
          if (!held) lost.abort();
        },
        () => undefined, // a failed renewal is tried again at the next tick; the lease still runs
      );
    }, this.#config.leaseMs / 3).unref();
    try {
      const result = await this.#work(job, signal);
      if (await this.#store.finish(job.id, owner, { status: 'done', result }, Date.now())) this.events.emit('settled', job.id, 'done');
    } catch (error) {
      if (signal.aborted) {
        // Closing: the job is due again at once (for the next start or another replica); lease lost: not ours to touch.
        if (!lost.signal.aborted) await this.#store.retry(job.id, owner, Date.now(), undefined);
        return;
      }
      await this.#settleFailure(job, owner, error);
    } finally {
      clearInterval(renewal);
    }
  }

  async #settleFailure(job: JobRow, owner: string, error: unknown): Promise<void> {
    const reason: JobError =
      error instanceof ServiceError
        ? { code: error.code, message: error.message }
        : { code: 'internal_error', message: 'the job failed unexpectedly' };
    if (!(error instanceof ServiceError))
      this.#log.warn({ job: job.id, error: error instanceof Error ? error.name : typeof error }, 'a job failed unexpectedly');
    if (RETRYABLE.has(reason.code) && job.attempts < this.#config.maxAttempts) {
      const backoff = this.#config.backoffMs * 2 ** (job.attempts - 1);
      if (await this.#store.retry(job.id, owner, Date.now() + backoff, reason)) this.events.emit('retry', job.id);
      return;
    }
    if (await this.#store.finish(job.id, owner, { status: 'failed', error: reason }, Date.now()))
      this.events.emit('settled', job.id, 'failed');
  }
}
