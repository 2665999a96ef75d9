/**
 * What the jobs are kept in (docs/pacs.md "Jobs"): one row per job, written before the job is acknowledged, so that
 * a job survives the process. Two implementations: an embedded SQLite file for one process (sqlite-store.ts) and
 * PostgreSQL for replicas sharing one queue (postgres-store.ts). A running job is held by a lease: an owner token
 * and an expiry its runner renews; a job whose lease ended (its process died) is claimed again by any runner, and
 * an owner whose lease was taken can no longer settle the job.
 */

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed'];

export interface JobError {
  code: string;
  message: string;
}

export interface JobRow {
  id: string;
  seq: number;
  keyId: string;
  request: unknown;
  /** The creating key's `sources=` at creation: `*` or the names. */
  sources: string[];
  status: JobStatus;
  attempts: number;
  error: JobError | undefined;
  result: unknown;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

export interface NewJob {
  id: string;
  keyId: string;
  idempotencyKey: string | undefined;
  bodyHash: string;
  request: unknown;
  sources: string[];
}

/** A claimed job: its row and the token that settles it while the lease is this runner's. */
export interface ClaimedJob {
  row: JobRow;
  owner: string;
}

export type JobOutcome = { status: 'done'; result: unknown } | { status: 'failed'; error: JobError };

export interface JobStore {
  /** The job the key created with this idempotency key, and the keyed hash of the body it was created with. */
  findByIdempotencyKey(keyId: string, idempotencyKey: string): Promise<{ row: JobRow; bodyHash: string } | undefined>;
  /** Jobs not yet finished (queued, or running: a job between two tries is one of the two), in all or of one key. */
  unfinishedCount(keyId?: string): Promise<number>;
  /** Keeps a new job, queued; false (nothing written) when the key already has a job with this idempotency key. */
  insert(job: NewJob, now: number): Promise<boolean>;
  get(id: string, keyId: string): Promise<JobRow | undefined>;
  /** The key's jobs in creation order after `afterSeq`, at most `limit`. */
  list(keyId: string, status: JobStatus | undefined, afterSeq: number, limit: number): Promise<JobRow[]>;
  /**
   * Takes the oldest job that is due (queued and past its backoff, or running with a lease that ended): running,
   * one more attempt, held by a new owner token until `leaseUntil`. Never the same job to two callers.
   */
  claim(now: number, leaseUntil: number): Promise<ClaimedJob | undefined>;
  /** Extends the lease; false when it is no longer this owner's (it ended and another runner took the job). */
  renew(id: string, owner: string, leaseUntil: number): Promise<boolean>;
  /** Settles the job; false (nothing written) when the lease is no longer this owner's. */
  finish(id: string, owner: string, outcome: JobOutcome, now: number): Promise<boolean>;
  /** Queues the job again, due at `notBefore`, keeping the last error; false when the lease is no longer this owner's. */
  retry(id: string, owner: string, notBefore: number, error: JobError | undefined): Promise<boolean>;
  /** When the next job becomes claimable (a queued job's backoff or a running job's lease ends), if any. */
  nextDue(): Promise<number | undefined>;
  /** Deletes the jobs that finished before `before`; how many. */
  deleteFinished(before: number): Promise<number>;
  /** Jobs per status, and when the oldest queued job was created (for the metrics). */
  summary(): Promise<{ counts: Record<JobStatus, number>; oldestQueuedAt: number | undefined }>;
  /** Whether the watch's first poll has ended (before it, what the watch sees is old and creates no job). */
  watchBegun(watch: string): Promise<boolean>;
  beginWatch(watch: string, now: number): Promise<void>;
  /** Of `studies` (keyed hashes, never UIDs), those the watch has not recorded yet. */
  unseen(watch: string, studies: string[]): Promise<string[]>;
  markSeen(watch: string, studies: string[], now: number): Promise<void>;
  close(): Promise<void>;
}
