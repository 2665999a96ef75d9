/**
 * The jobs table, in an embedded SQLite file (node:sqlite): one row per job, written before the job is
 * acknowledged, so that a job survives a restart of the process. Claims are single UPDATE ... RETURNING
 * statements, so a job is never run twice at once by this process.
 */
import { closeSync, openSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { JobCipher } from './cipher.ts';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: string;
  seq: number;
  keyId: string;
  request: unknown;
  /** The creating key's `sources=` at creation: `*` or the names. */
  sources: string[];
  status: JobStatus;
  attempts: number;
  error: { code: string; message: string } | undefined;
  result: unknown;
}

export interface NewJob {
  id: string;
  keyId: string;
  idempotencyKey: string | undefined;
  bodyHash: string;
  request: unknown;
  sources: string[];
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  idempotency_key TEXT,
  body_hash TEXT NOT NULL,
  request TEXT NOT NULL,
  sources TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL,
  lease_until INTEGER,
  error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, not_before);
`;

type Raw = Record<string, SQLInputValue>;

function str(value: SQLInputValue | undefined): string {
  if (typeof value !== 'string') throw new Error('a jobs column that holds text holds something else');
  return value;
}

function rowOf(raw: Raw, cipher: JobCipher): JobRow {
  const id = str(raw.id);
  return {
    id,
    seq: Number(raw.seq),
    keyId: str(raw.key_id),
    request: cipher.open(id, str(raw.request)),
    sources: JSON.parse(str(raw.sources)) as string[],
    status: str(raw.status) as JobStatus,
    attempts: Number(raw.attempts),
    error: raw.error === null ? undefined : (JSON.parse(str(raw.error)) as { code: string; message: string }),
    result: raw.result === null ? undefined : cipher.open(id, str(raw.result)),
  };
}

export class JobStore {
  readonly #db: DatabaseSync;
  readonly #cipher: JobCipher;

  /** `file` is created readable by the service's user only (0600); the request and result columns are sealed by `cipher`. */
  constructor(file: string, cipher: JobCipher) {
    closeSync(openSync(file, 'a', 0o600));
    this.#db = new DatabaseSync(file);
    this.#cipher = cipher;
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** The job the key created with this idempotency key, and the hash of the body it was created with. */
  findByIdempotencyKey(keyId: string, idempotencyKey: string): { row: JobRow; bodyHash: string } | undefined {
    const raw = this.#db.prepare('SELECT * FROM jobs WHERE key_id = ? AND idempotency_key = ?').get(keyId, idempotencyKey) as
      Raw | undefined;
    return raw === undefined ? undefined : { row: rowOf(raw, this.#cipher), bodyHash: str(raw.body_hash) };
  }

  /** Jobs not yet finished (queued, or running: a job between two tries is one of the two), in all or of one key. */
  queuedCount(keyId?: string): number {
    const raw =
      keyId === undefined
        ? this.#db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')").get()
        : this.#db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') AND key_id = ?").get(keyId);
    return Number((raw as Raw).n);
  }

  insert(job: NewJob, now: number): void {
    this.#db
      .prepare(
        `INSERT INTO jobs (id, key_id, idempotency_key, body_hash, request, sources, status, not_before, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
      )
      .run(
        job.id,
        job.keyId,
        job.idempotencyKey ?? null,
        job.bodyHash,
        this.#cipher.seal(job.id, job.request),
        JSON.stringify(job.sources),
        now,
        now,
      );
  }

  get(id: string, keyId: string): JobRow | undefined {
    const raw = this.#db.prepare('SELECT * FROM jobs WHERE id = ? AND key_id = ?').get(id, keyId) as Raw | undefined;
    return raw === undefined ? undefined : rowOf(raw, this.#cipher);
  }

  /** The key's jobs in creation order after `afterSeq`, at most `limit`. */
  list(keyId: string, status: JobStatus | undefined, afterSeq: number, limit: number): JobRow[] {
    const rows = this.#db
      .prepare('SELECT * FROM jobs WHERE key_id = ? AND (? IS NULL OR status = ?) AND seq > ? ORDER BY seq LIMIT ?')
      .all(keyId, status ?? null, status ?? null, afterSeq, limit) as Raw[];
    return rows.map((raw) => rowOf(raw, this.#cipher));
  }

  /** Takes the oldest queued job that is due: running, one more attempt, held until `leaseUntil`. */
  claim(now: number, leaseUntil: number): JobRow | undefined {
    const raw = this.#db
      .prepare(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = ?
         WHERE seq = (SELECT seq FROM jobs WHERE status = 'queued' AND not_before <= ? ORDER BY seq LIMIT 1) RETURNING *`,
      )
      .get(leaseUntil, now) as Raw | undefined;
    return raw === undefined ? undefined : rowOf(raw, this.#cipher);
  }

  /** The earliest time a queued job becomes due, if any is queued. */
  nextDue(): number | undefined {
    const raw = this.#db.prepare("SELECT MIN(not_before) AS due FROM jobs WHERE status = 'queued'").get() as Raw;
    return raw.due === null ? undefined : Number(raw.due);
  }

  finish(
    id: string,
    outcome: { status: 'done'; result: unknown } | { status: 'failed'; error: { code: string; message: string } },
    now: number,
  ): void {
    const result = outcome.status === 'done' ? this.#cipher.seal(id, outcome.result) : null;
    const error = outcome.status === 'failed' ? JSON.stringify(outcome.error) : null;
    this.#db
      .prepare('UPDATE jobs SET status = ?, result = ?, error = ?, lease_until = NULL, finished_at = ? WHERE id = ?')
      .run(outcome.status, result, error, now, id);
  }

  /** Queues the job again, due at `notBefore`, keeping the last error for GET /jobs/{id}. */
  retry(id: string, notBefore: number, error: { code: string; message: string } | undefined): void {
    this.#db
      .prepare("UPDATE jobs SET status = 'queued', not_before = ?, lease_until = NULL, error = ? WHERE id = ?")
      .run(notBefore, error === undefined ? null : JSON.stringify(error), id);
  }

  /** Running jobs whose lease ended before `now` (their process died) are queued again; how many. */
  requeueExpired(now: number): number {
    return Number(
      this.#db.prepare("UPDATE jobs SET status = 'queued', lease_until = NULL WHERE status = 'running' AND lease_until < ?").run(now)
        .changes,
    );
  }

  /** Deletes the jobs that finished before `before`; how many. */
  deleteFinished(before: number): number {
    return Number(this.#db.prepare("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < ?").run(before).changes);
  }
}
