/**
 * The jobs' use cases (docs/pacs.md "Jobs"): submit one (idempotent per key, bounded per key and in all), read one
 * or a page of them as the key that created them. Callers are the HTTP routes and the watch; both go through
 * `submit`, so both are bounded alike. A job is written to the store before `submit` answers.
 */
import { randomUUID } from 'node:crypto';
import type { JobsConfig } from '../../config/jobs.ts';
import { ServiceError } from '../../errors.ts';
import { canonicalJson } from '../../dicom-sr/uids.ts';
import type { JobCipher } from './cipher.ts';
import type { JobRunner } from './runner.ts';
import type { JobRow, JobStatus, JobStore } from './store.ts';

export interface Submission {
  /** The owning key's id ('' on a service without keys, or the watch's identity). */
  keyId: string;
  /** The owning key's `sources=` (`*` for all), which the job's PACS requests run with. */
  sources: string[];
  idempotencyKey: string | undefined;
  request: unknown;
}

export class Jobs {
  readonly store: JobStore;
  readonly runner: JobRunner;
  readonly #cipher: JobCipher;
  readonly #limits: Pick<JobsConfig, 'maxQueued' | 'maxQueuedPerKey'>;

  constructor(store: JobStore, runner: JobRunner, cipher: JobCipher, limits: Pick<JobsConfig, 'maxQueued' | 'maxQueuedPerKey'>) {
    this.store = store;
    this.runner = runner;
    this.#cipher = cipher;
    this.#limits = limits;
  }

  /**
   * Keeps a new job and wakes the runner: `created` false when the key already made one with this idempotency key
   * and the same body (409 `conflict` for another body).
   */
  async submit(submission: Submission): Promise<{ row: Pick<JobRow, 'id' | 'status'>; created: boolean }> {
    const { keyId, idempotencyKey } = submission;
    const bodyHash = this.#cipher.fingerprint(canonicalJson(submission.request));
    const earlier = idempotencyKey === undefined ? undefined : await this.#earlier(keyId, idempotencyKey, bodyHash);
    if (earlier !== undefined) return { row: earlier, created: false };
    const { maxQueued, maxQueuedPerKey } = this.#limits;
    if ((await this.store.unfinishedCount(keyId)) >= maxQueuedPerKey)
      throw new ServiceError('rate_limited', `this API key has JOBS_MAX_QUEUED_PER_KEY (${maxQueuedPerKey}) jobs queued or running`, {
        retryAfterSeconds: 60,
      });
    if ((await this.store.unfinishedCount()) >= maxQueued)
      throw new ServiceError('queue_full', `JOBS_MAX_QUEUED (${maxQueued}) jobs are queued or running`, { retryAfterSeconds: 60 });
    const id = randomUUID();
    const inserted = await this.store.insert({ ...submission, id, bodyHash }, Date.now());
    if (!inserted) {
      // Another request with the same idempotency key was kept between the look and the insert.
      const raced = await this.#earlier(keyId, idempotencyKey!, bodyHash);
      if (raced === undefined) throw new Error('a job refused as a duplicate is not in the store');
      return { row: raced, created: false };
    }
    this.runner.wake();
    return { row: { id, status: 'queued' }, created: true };
  }

  /** A keyed hash (HMAC-SHA256 under the jobs' key) of `text`: what the store keeps in place of a UID it must match. */
  fingerprint(text: string): string {
    return this.#cipher.fingerprint(text);
  }

  async get(id: string, keyId: string): Promise<JobRow> {
    const row = await this.store.get(id, keyId);
    if (row === undefined) throw new ServiceError('job_not_found', 'no such job (jobs are seen only by the API key that created them)');
    return row;
  }

  async list(keyId: string, status: JobStatus | undefined, afterSeq: number, limit: number): Promise<{ rows: JobRow[]; next?: number }> {
    const rows = await this.store.list(keyId, status, afterSeq, limit + 1);
    const page = rows.slice(0, limit);
    return { rows: page, ...(rows.length > limit ? { next: page[page.length - 1]!.seq } : {}) };
  }

  async #earlier(keyId: string, idempotencyKey: string, bodyHash: string): Promise<JobRow | undefined> {
    const earlier = await this.store.findByIdempotencyKey(keyId, idempotencyKey);
    if (earlier === undefined) return undefined;
    if (earlier.bodyHash !== bodyHash)
      throw new ServiceError('conflict', 'this Idempotency-Key was used for another request body', { field: 'idempotency-key' });
    return earlier.row;
  }
}
