/** The PostgreSQL job store's schema (SQLite's columns; times as epoch milliseconds in BIGINT), and what its errors mean. */
import pg from 'pg';
import { ServiceError } from '../../errors.ts';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  key_id TEXT NOT NULL,
  idempotency_key TEXT,
  body_hash TEXT NOT NULL,
  request TEXT NOT NULL,
  sources TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL,
  lease_until BIGINT,
  lease_owner TEXT,
  error TEXT,
  result TEXT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT,
  UNIQUE (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, not_before);
CREATE TABLE IF NOT EXISTS watches (name TEXT PRIMARY KEY, begun_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS watch_seen (watch TEXT NOT NULL, study TEXT NOT NULL, seen_at BIGINT NOT NULL, PRIMARY KEY (watch, study));
`;

/** The advisory lock the schema is created under (any constant the service alone uses). */
export const SCHEMA_LOCK = 0x756e696d; // 'unim'

/** SQLSTATE classes that mean the database cannot serve now: connection, authorization, missing database, resources, operator intervention (shutdown, statement timeout), system error. */
const UNAVAILABLE_CLASSES = new Set(['08', '28', '3D', '53', '57', '58']);

export const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** A failure to reach the database as the 503 it is; an error in a statement (a fault of ours) as it is. */
export function unavailable(error: unknown): unknown {
  if (error instanceof pg.DatabaseError && !UNAVAILABLE_CLASSES.has((error.code ?? '').slice(0, 2))) return error;
  const code = codeOf(error);
  return new ServiceError('jobs_unavailable', `the job database is unavailable${code === undefined ? '' : ` (${code})`}; retry later`, {
    retryAfterSeconds: 5,
  });
}
