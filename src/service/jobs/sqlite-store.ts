/**
 * The jobs in an embedded SQLite file (node:sqlite), for one process: JOBS_DB. Each statement is atomic, so a claim
 * (one UPDATE ... RETURNING) never hands one job to two runners. The file is created 0600; the request and result
 * columns are sealed by the JobCipher.
 */
/* eslint-disable @typescript-eslint/require-await -- JobStore is asynchronous for PostgreSQL; node:sqlite's calls are synchronous */
import { randomUUID } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import type { JobCipher } from './cipher.ts';
import { jobRowOf } from './rows.ts';
import {
  JOB_STATUSES,
  type ClaimedJob,
  type JobError,
  type JobOutcome,
  type JobRow,
  type JobStatus,
  type JobStore,
  type NewJob,
} from './store.ts';

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
  lease_owner TEXT,
  error TEXT,
  result TEXT,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, not_before);
CREATE TABLE IF NOT EXISTS watches (name TEXT PRIMARY KEY, begun_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS watch_seen (watch TEXT NOT NULL, study TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (watch, study));
`;

/** Claimable now: queued past its backoff, or running with a lease that ended. */
const DUE = "(status = 'queued' AND not_before <= :now) OR (status = 'running' AND lease_until < :now)";

type Raw = Record<string, SQLInputValue>;

function str(value: SQLInputValue | undefined): string {
  if (typeof value !== 'string') throw new Error('a jobs column that holds text holds something else');
  return value;
}

export class SqliteJobStore implements JobStore {
  readonly #db: DatabaseSync;
  readonly #cipher: JobCipher;

  constructor(file: string, cipher: JobCipher) {
    closeSync(openSync(file, 'a', 0o600));
    this.#db = new DatabaseSync(file);
    this.#cipher = cipher;
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
    // Files written before leases had owners (the first release of jobs) gain the column.
    const columns = this.#db.prepare('PRAGMA table_info(jobs)').all() as Raw[];
    if (!columns.some((c) => c.name === 'lease_owner')) this.#db.exec('ALTER TABLE jobs ADD COLUMN lease_owner TEXT');
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }

  async findByIdempotencyKey(keyId: string, idempotencyKey: string): Promise<{ row: JobRow; bodyHash: string } | undefined> {
    const raw = this.#db.prepare('SELECT * FROM jobs WHERE key_id = ? AND idempotency_key = ?').get(keyId, idempotencyKey) as
      Raw | undefined;
    return raw === undefined ? undefined : { row: jobRowOf(raw, this.#cipher), bodyHash: str(raw.body_hash) };
  }

  async unfinishedCount(keyId?: string): Promise<number> {
    const raw =
      keyId === undefined
        ? this.#db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running')").get()
        : this.#db.prepare("SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') AND key_id = ?").get(keyId);
    return Number((raw as Raw).n);
  }

  async insert(job: NewJob, now: number): Promise<boolean> {
    const { changes } = this.#db
      .prepare(
        `INSERT INTO jobs (id, key_id, idempotency_key, body_hash, request, sources, status, not_before, created_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (key_id, idempotency_key) DO NOTHING`,
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
    return Number(changes) === 1;
  }

  async get(id: string, keyId: string): Promise<JobRow | undefined> {
    const raw = this.#db.prepare('SELECT * FROM jobs WHERE id = ? AND key_id = ?').get(id, keyId) as Raw | undefined;
    return raw === undefined ? undefined : jobRowOf(raw, this.#cipher);
  }

  async list(keyId: string, status: JobStatus | undefined, afterSeq: number, limit: number): Promise<JobRow[]> {
    const rows = this.#db
      .prepare('SELECT * FROM jobs WHERE key_id = ? AND (? IS NULL OR status = ?) AND seq > ? ORDER BY seq LIMIT ?')
      .all(keyId, status ?? null, status ?? null, afterSeq, limit) as Raw[];
    return rows.map((raw) => jobRowOf(raw, this.#cipher));
  }

  async claim(now: number, leaseUntil: number): Promise<ClaimedJob | undefined> {
    const owner = randomUUID();
    const raw = this.#db
      .prepare(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = :lease, lease_owner = :owner
         WHERE seq = (SELECT seq FROM jobs WHERE ${DUE} ORDER BY seq LIMIT 1) RETURNING *`,
      )
      .get({ lease: leaseUntil, owner, now }) as Raw | undefined;
    return raw === undefined ? undefined : { row: jobRowOf(raw, this.#cipher), owner };
  }

  async renew(id: string, owner: string, leaseUntil: number): Promise<boolean> {
    const sql = "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND status = 'running'";
    return Number(this.#db.prepare(sql).run(leaseUntil, id, owner).changes) === 1;
  }

  async finish(id: string, owner: string, outcome: JobOutcome, now: number): Promise<boolean> {
    const result = outcome.status === 'done' ? this.#cipher.seal(id, outcome.result) : null;
    const error = outcome.status === 'failed' ? JSON.stringify(outcome.error) : null;
    const sql = `UPDATE jobs SET status = ?, result = ?, error = ?, lease_until = NULL, lease_owner = NULL, finished_at = ?
                 WHERE id = ? AND lease_owner = ? AND status = 'running'`;
    return Number(this.#db.prepare(sql).run(outcome.status, result, error, now, id, owner).changes) === 1;
  }

  async retry(id: string, owner: string, notBefore: number, error: JobError | undefined): Promise<boolean> {
    const sql = `UPDATE jobs SET status = 'queued', not_before = ?, lease_until = NULL, lease_owner = NULL, error = ?
                 WHERE id = ? AND lease_owner = ? AND status = 'running'`;
    return Number(this.#db.prepare(sql).run(notBefore, error === undefined ? null : JSON.stringify(error), id, owner).changes) === 1;
  }

  async nextDue(): Promise<number | undefined> {
    const sql = `SELECT MIN(CASE status WHEN 'queued' THEN not_before ELSE lease_until END) AS due
                 FROM jobs WHERE status IN ('queued', 'running')`;
    const raw = this.#db.prepare(sql).get() as Raw;
    return raw.due === null ? undefined : Number(raw.due);
  }

  async deleteFinished(before: number): Promise<number> {
    return Number(this.#db.prepare("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < ?").run(before).changes);
  }

  async summary(): Promise<{ counts: Record<JobStatus, number>; oldestQueuedAt: number | undefined }> {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const raw of this.#db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as Raw[])
      counts[str(raw.status) as JobStatus] = Number(raw.n);
    const oldest = this.#db.prepare("SELECT MIN(created_at) AS at FROM jobs WHERE status = 'queued'").get() as Raw;
    return { counts, oldestQueuedAt: oldest.at === null ? undefined : Number(oldest.at) };
  }

  async watchBegun(watch: string): Promise<boolean> {
    return this.#db.prepare('SELECT 1 FROM watches WHERE name = ?').get(watch) !== undefined;
  }

  async beginWatch(watch: string, now: number): Promise<void> {
    this.#db.prepare('INSERT INTO watches (name, begun_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(watch, now);
  }

  async unseen(watch: string, studies: string[]): Promise<string[]> {
    const seen = this.#db.prepare('SELECT 1 FROM watch_seen WHERE watch = ? AND study = ?');
    return studies.filter((study) => seen.get(watch, study) === undefined);
  }

  async markSeen(watch: string, studies: string[], now: number): Promise<void> {
    const insert = this.#db.prepare('INSERT INTO watch_seen (watch, study, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
    this.#db.exec('BEGIN');
    try {
      for (const study of studies) insert.run(watch, study, now);
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }
}
