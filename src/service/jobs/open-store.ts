/** The job store the configuration names: SQLite (JOBS_DB). */
import type { JobsConfig } from '../../config/jobs.ts';
import type { JobCipher } from './cipher.ts';
import { SqliteJobStore } from './sqlite-store.ts';
import type { JobStore } from './store.ts';

export function openJobStore(config: Pick<JobsConfig, 'db'>, cipher: JobCipher): Promise<JobStore> {
  if (config.db === undefined) throw new Error('no job store is configured');
  return Promise.resolve(new SqliteJobStore(config.db, cipher));
}
