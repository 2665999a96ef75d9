/** Durable classification jobs (POST /jobs, docs/pacs.md "Jobs"): where they are kept and how they are run. */
import { ConfigError, duration, type Env, fileText, integer, path } from './env.ts';

export interface JobsConfig {
  /** JOBS_DB: the SQLite file that holds the jobs; without it the /jobs routes are not registered (404). */
  db: string | undefined;
  /** JOBS_KEY_FILE (required with JOBS_DB): the secret whose SHA-256 is the AES-256-GCM key sealing each job's request and result. */
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

function jobsKey(env: Env, cwd: string, db: string | undefined): string | undefined {
  const file = path(env, 'JOBS_KEY_FILE', cwd);
  if (db === undefined) return undefined;
  if (file === undefined) throw new ConfigError('JOBS_DB needs JOBS_KEY_FILE: the jobs hold study UIDs, sealed at rest with its key');
  const secret = fileText(file, 'JOBS_KEY_FILE', { maxChars: 4096 }).replace(/\r?\n$/, '');
  if (secret.length < MIN_JOBS_KEY_CHARS) throw new ConfigError(`JOBS_KEY_FILE ${file} holds fewer than ${MIN_JOBS_KEY_CHARS} characters`);
  return secret;
}

export function jobsConfig(env: Env, cwd: string): JobsConfig {
  const db = path(env, 'JOBS_DB', cwd);
  return {
    db,
    keySecret: jobsKey(env, cwd, db),
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
