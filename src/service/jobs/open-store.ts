/** The job store the configuration names: SQLite (JOBS_DB) for one process, PostgreSQL (JOBS_DATABASE_URL) for replicas. */
import type { JobsConfig } from '../../config/jobs.ts';
import type { JobCipher } from './cipher.ts';
import { PostgresJobStore } from './postgres-store.ts';
import type { RunnerLog } from './runner.ts';
import { SqliteJobStore } from './sqlite-store.ts';
import type { JobStore } from './store.ts';

export async function openJobStore(
  config: Pick<JobsConfig, 'db' | 'databaseUrl' | 'databasePool'>,
  cipher: JobCipher,
  log?: Pick<RunnerLog, 'warn'>,
): Promise<JobStore> {
  if (config.databaseUrl !== undefined) {
    const onIdleError = (fields: Record<string, unknown>) => log?.warn(fields, 'a connection to the job database failed while idle');
    return PostgresJobStore.open({ url: config.databaseUrl, poolSize: config.databasePool, onIdleError }, cipher);
  }
  if (config.db === undefined) throw new Error('no job store is configured');
  return new SqliteJobStore(config.db, cipher);
}
