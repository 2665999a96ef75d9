/** A job row as either database returns it: the column names are the same in SQLite and PostgreSQL. */
import type { JobCipher } from './cipher.ts';
import type { JobError, JobRow, JobStatus } from './store.ts';

function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error('a jobs column that holds text holds something else');
  return value;
}

/** The row with its sealed columns opened; numbers may come as strings (PostgreSQL's BIGINT). */
export function jobRowOf(raw: Record<string, unknown>, cipher: JobCipher): JobRow {
  const id = text(raw.id);
  return {
    id,
    seq: Number(raw.seq),
    keyId: text(raw.key_id),
    request: cipher.open(id, text(raw.request)),
    sources: JSON.parse(text(raw.sources)) as string[],
    status: text(raw.status) as JobStatus,
    attempts: Number(raw.attempts),
    error: raw.error === null ? undefined : (JSON.parse(text(raw.error)) as JobError),
    result: raw.result === null ? undefined : cipher.open(id, text(raw.result)),
    createdAt: Number(raw.created_at),
  };
}
