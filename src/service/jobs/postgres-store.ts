/**
 * The jobs in PostgreSQL (JOBS_DATABASE_URL), for replicas sharing one queue. The columns are SQLite's (times are
 * epoch milliseconds in BIGINT, which pg returns as strings); a claim is one statement whose inner SELECT takes
 * the oldest due row FOR UPDATE SKIP LOCKED, so two replicas never take one job and neither waits on the other.
 * The schema is created at open under an advisory lock (replicas starting together). A bounded pool, with connect
 * and statement timeouts; a database that cannot be reached is `jobs_unavailable` (503), never a 500. The URL
 * holds a password: nothing here logs it or puts it in an error.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { JobCipher } from './cipher.ts';
import { codeOf, SCHEMA, SCHEMA_LOCK, unavailable } from './postgres-schema.ts';
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

/** Claimable at $1: queued past its backoff, or running with a lease that ended. */
const DUE = "(status = 'queued' AND not_before <= $1) OR (status = 'running' AND lease_until < $1)";

export interface PostgresStoreOptions {
  url: string;
  /** Connections at most. */
  poolSize: number;
  /** Opening a connection, and one statement, at most this long (milliseconds). */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** Told when an idle connection fails (the server restarted): its error's name and code only. */
  onIdleError?: (fields: { error: string; code: string | undefined }) => void;
}

type Raw = Record<string, unknown>;

export class PostgresJobStore implements JobStore {
  readonly #pool: pg.Pool;
  readonly #cipher: JobCipher;
  #closed = false;

  private constructor(pool: pg.Pool, cipher: JobCipher) {
    this.#pool = pool;
    this.#cipher = cipher;
  }

  /** Connects and creates the schema if it is not there yet. */
  static async open(options: PostgresStoreOptions, cipher: JobCipher): Promise<PostgresJobStore> {
    const statementTimeout = options.statementTimeoutMs ?? 10_000;
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: statementTimeout,
      // A server that stopped answering (no reset, no timeout of its own) fails the call a little after the statement timeout.
      query_timeout: statementTimeout + 5_000,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'unimed-serve',
    });
    pool.on('error', (error) => options.onIdleError?.({ error: error.name, code: codeOf(error) }));
    const store = new PostgresJobStore(pool, cipher);
    try {
      await store.#transaction(async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(SCHEMA);
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  async #query(sql: string, values: unknown[] = []): Promise<pg.QueryResult<Raw>> {
    try {
      return await this.#pool.query<Raw>(sql, values);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async #transaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw unavailable(error);
    }
    let failed: unknown;
    try {
      await client.query('BEGIN');
      await work(client);
      await client.query('COMMIT');
    } catch (error) {
      failed = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw unavailable(error);
    } finally {
      // A connection whose transaction failed is dropped rather than reused.
      client.release(failed instanceof Error ? failed : undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async findByIdempotencyKey(keyId: string, idempotencyKey: string): Promise<{ row: JobRow; bodyHash: string } | undefined> {
    const { rows } = await this.#query('SELECT * FROM jobs WHERE key_id = $1 AND idempotency_key = $2', [keyId, idempotencyKey]);
    const raw = rows[0];
    return raw === undefined ? undefined : { row: jobRowOf(raw, this.#cipher), bodyHash: String(raw.body_hash) };
  }

  async unfinishedCount(keyId?: string): Promise<number> {
    const { rows } = await this.#query(
      "SELECT COUNT(*) AS n FROM jobs WHERE status IN ('queued', 'running') AND ($1::text IS NULL OR key_id = $1)",
      [keyId ?? null],
    );
    return Number(rows[0]!.n);
  }

  async insert(job: NewJob, now: number): Promise<boolean> {
    const { rowCount } = await this.#query(
      `INSERT INTO jobs (id, key_id, idempotency_key, body_hash, request, sources, status, not_before, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7) ON CONFLICT (key_id, idempotency_key) DO NOTHING`,
      [
        job.id,
        job.keyId,
        job.idempotencyKey ?? null,
        job.bodyHash,
        this.#cipher.seal(job.id, job.request),
        JSON.stringify(job.sources),
        now,
      ],
    );
    return rowCount === 1;
  }

  async get(id: string, keyId: string): Promise<JobRow | undefined> {
    const { rows } = await this.#query('SELECT * FROM jobs WHERE id = $1 AND key_id = $2', [id, keyId]);
    return rows[0] === undefined ? undefined : jobRowOf(rows[0], this.#cipher);
  }

  async list(keyId: string, status: JobStatus | undefined, afterSeq: number, limit: number): Promise<JobRow[]> {
    const { rows } = await this.#query(
      'SELECT * FROM jobs WHERE key_id = $1 AND ($2::text IS NULL OR status = $2) AND seq > $3 ORDER BY seq LIMIT $4',
      [keyId, status ?? null, afterSeq, limit],
    );
    return rows.map((raw) => jobRowOf(raw, this.#cipher));
  }

  async claim(now: number, leaseUntil: number): Promise<ClaimedJob | undefined> {
    const owner = randomUUID();
    const { rows } = await this.#query(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $2, lease_owner = $3
       WHERE seq = (SELECT seq FROM jobs WHERE ${DUE} ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *`,
      [now, leaseUntil, owner],
    );
    return rows[0] === undefined ? undefined : { row: jobRowOf(rows[0], this.#cipher), owner };
  }

  async renew(id: string, owner: string, leaseUntil: number): Promise<boolean> {
    const sql = "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'";
    return (await this.#query(sql, [leaseUntil, id, owner])).rowCount === 1;
  }

  async finish(id: string, owner: string, outcome: JobOutcome, now: number): Promise<boolean> {
    const result = outcome.status === 'done' ? this.#cipher.seal(id, outcome.result) : null;
    const error = outcome.status === 'failed' ? JSON.stringify(outcome.error) : null;
    const sql = `UPDATE jobs SET status = $1, result = $2, error = $3, lease_until = NULL, lease_owner = NULL, finished_at = $4
                 WHERE id = $5 AND lease_owner = $6 AND status = 'running'`;
    return (await this.#query(sql, [outcome.status, result, error, now, id, owner])).rowCount === 1;
  }

  async retry(id: string, owner: string, notBefore: number, error: JobError | undefined): Promise<boolean> {
    const sql = `UPDATE jobs SET status = 'queued', not_before = $1, lease_until = NULL, lease_owner = NULL, error = $2
                 WHERE id = $3 AND lease_owner = $4 AND status = 'running'`;
    const values = [notBefore, error === undefined ? null : JSON.stringify(error), id, owner];
    return (await this.#query(sql, values)).rowCount === 1;
  }

  async nextDue(): Promise<number | undefined> {
    const { rows } = await this.#query(
      `SELECT MIN(CASE status WHEN 'queued' THEN not_before ELSE lease_until END) AS due
       FROM jobs WHERE status IN ('queued', 'running')`,
    );
    return rows[0]!.due === null ? undefined : Number(rows[0]!.due);
  }

  async deleteFinished(before: number): Promise<number> {
    return (await this.#query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < $1", [before])).rowCount ?? 0;
  }

  async summary(): Promise<{ counts: Record<JobStatus, number>; oldestQueuedAt: number | undefined }> {
    const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
    for (const raw of (await this.#query('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status')).rows)
      counts[String(raw.status) as JobStatus] = Number(raw.n);
    const { rows } = await this.#query("SELECT MIN(created_at) AS at FROM jobs WHERE status = 'queued'");
    return { counts, oldestQueuedAt: rows[0]!.at === null ? undefined : Number(rows[0]!.at) };
  }

  async watchBegun(watch: string): Promise<boolean> {
    return (await this.#query('SELECT 1 FROM watches WHERE name = $1', [watch])).rows.length > 0;
  }

  async beginWatch(watch: string, now: number): Promise<void> {
    await this.#query('INSERT INTO watches (name, begun_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [watch, now]);
  }

  async unseen(watch: string, studies: string[]): Promise<string[]> {
    const { rows } = await this.#query('SELECT study FROM watch_seen WHERE watch = $1 AND study = ANY($2::text[])', [watch, studies]);
    const seen = new Set(rows.map((raw) => String(raw.study)));
    return studies.filter((study) => !seen.has(study));
  }

  async markSeen(watch: string, studies: string[], now: number): Promise<void> {
    await this.#query(
      'INSERT INTO watch_seen (watch, study, seen_at) SELECT $1, study, $3 FROM unnest($2::text[]) AS study ON CONFLICT DO NOTHING',
      [watch, studies, now],
    );
  }
}
