/** Durable classification jobs (POST /jobs, docs/pacs.md "Jobs"): where they are kept and how they are run. */
import { ConfigError, duration, type Env, fileText, integer, path, text } from './env.ts';

export interface JobsConfig {
  /** JOBS_DB: the SQLite file that holds the jobs, for one process. Without it or databaseUrl the /jobs routes are not registered (404). */
  db: string | undefined;
  /** JOBS_DATABASE_URL: the PostgreSQL database that holds the jobs, shared by replicas. It holds a password: never logged. */
  databaseUrl: string | undefined;
  /** Connections to PostgreSQL this process opens at most. */
  databasePool: number;
  /** JOBS_KEY_FILE (required with either store): the secret whose SHA-256 is the AES-256-GCM key sealing each job's request and result. */
  keySecret: string | undefined;
  /** Jobs run at once. */
  concurrency: number;
  /** Tries of a job whose DICOMweb source is unreachable or slow before it fails. */
  maxAttempts: number;
  /** The wait before the second try; doubled for each later one. */
  backoffMs: number;
  /** How long a running job is held without renewal (its runner renews it every third of this); past it, another runner takes the job. */
  leaseMs: number;
  /** Jobs queued at once, in all and per API key (429 past the key's, 503 past the total). */
  maxQueued: number;
  maxQueuedPerKey: number;
  /** Finished jobs are deleted this long after they finished. */
  retentionMs: number;
  /** Series of a study a job classifies at most (QIDO-RS answers with more fail the job). */
  maxStudySeries: number;
}

const MIN_JOBS_KEY_CHARS = 32;

/** JOBS_DATABASE_URL: a postgres:// or postgresql:// URL. The messages never repeat it (it holds a password). */
function databaseUrl(env: Env): string | undefined {
  const raw = text(env, 'JOBS_DATABASE_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('JOBS_DATABASE_URL: not a URL (postgres://user:password@host:5432/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ConfigError('JOBS_DATABASE_URL: must be a postgres:// or postgresql:// URL');
  return raw;
}

function jobsKey(env: Env, cwd: string, store: string | undefined): string | undefined {
  const file = path(env, 'JOBS_KEY_FILE', cwd);
  if (store === undefined) return undefined;
  if (file === undefined) throw new ConfigError(`${store} needs JOBS_KEY_FILE: the jobs hold study UIDs, sealed at rest with its key`);
  const secret = fileText(file, 'JOBS_KEY_FILE', { maxChars: 4096 }).replace(/\r?\n$/, '');
  if (secret.length < MIN_JOBS_KEY_CHARS) throw new ConfigError(`JOBS_KEY_FILE ${file} holds fewer than ${MIN_JOBS_KEY_CHARS} characters`);
  return secret;
}

export function jobsConfig(env: Env, cwd: string): JobsConfig {
  const db = path(env, 'JOBS_DB', cwd);
  const url = databaseUrl(env);
  if (db !== undefined && url !== undefined)
    throw new ConfigError(
      'JOBS_DB and JOBS_DATABASE_URL are both set: the jobs are kept in one store (SQLite for one process, PostgreSQL for replicas)',
    );
  return {
    db,
    databaseUrl: url,
    databasePool: integer(env, 'JOBS_DATABASE_POOL', 4, 1, 100),
    keySecret: jobsKey(env, cwd, db !== undefined ? 'JOBS_DB' : url !== undefined ? 'JOBS_DATABASE_URL' : undefined),
    concurrency: integer(env, 'JOBS_CONCURRENCY', 2, 1, 64),
    maxAttempts: integer(env, 'JOBS_MAX_ATTEMPTS', 5, 1, 100),
    backoffMs: duration(env, 'JOBS_BACKOFF_MS', 5_000, 1),
    leaseMs: duration(env, 'JOBS_LEASE_MS', 30_000, 1_000),
    maxQueued: integer(env, 'JOBS_MAX_QUEUED', 10_000, 1, 10_000_000),
    maxQueuedPerKey: integer(env, 'JOBS_MAX_QUEUED_PER_KEY', 1_000, 1, 10_000_000),
    retentionMs: integer(env, 'JOBS_RETENTION_HOURS', 168, 1, 100_000) * 3_600_000,
    maxStudySeries: integer(env, 'MAX_STUDY_SERIES', 64, 1, 10_000),
  };
}
