/**
 * A real PostgreSQL (Debian's `postgresql`) for the job store's integration tests: a new cluster in a temporary
 * directory, listening on a free loopback port (its socket in that directory too), password authentication over
 * TCP with a generated password, fsync off. Run as the `postgres` user when the tests run as root (CI does;
 * PostgreSQL refuses root). Waited for by connecting (a condition, not a sleep); stopped with SIGINT (fast
 * shutdown), which can be undone by start() on the same files and port.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, openSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, until } from './common.ts';
import { findTool } from './tools.ts';

export const POSTGRES_INSTALL = 'apt-get install postgresql';

/** The directory of `initdb` and `postgres`: Debian's newest /usr/lib/postgresql/<version>/bin, else the one on PATH. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  const initdb = findTool('initdb');
  return initdb === undefined ? undefined : dirname(realpathSync(initdb));
}

export interface Postgres {
  port: number;
  /** The superuser's password (the URLs hold it). */
  password: string;
  /** Creates a new, empty database and gives its URL. */
  createDatabase(): Promise<string>;
  /** Fast shutdown, keeping the files; start() runs the server again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its directory; safe to call twice. */
  close(): Promise<void>;
  /** The server's log, for a failing test's message. */
  logFile: string;
}

/** The uid and gid to run PostgreSQL as: the postgres user's when this process is root, else none (this user). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export async function startPostgres(bin: string): Promise<Postgres> {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-postgres-'));
  const user = runAs();
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const password = randomBytes(18).toString('base64url');
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user !== undefined) chownSync(passwordFile, user.uid, user.gid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const log = openSync(logFile, 'a');
  execFileSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--pwfile', passwordFile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8'],
    { stdio: ['ignore', log, log], ...user, env: { ...process.env, LC_ALL: 'C' } },
  );
  const port = await freePort();
  const admin = (database: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${database}`;

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async (): Promise<void> => {
    const settings = { listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, fsync: 'off', synchronous_commit: 'off' };
    const args = ['-D', data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const server = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', log, log], ...user });
    child = server;
    let running = true;
    exited = new Promise<void>((resolve) =>
      server.once('exit', () => {
        running = false;
        resolve();
      }),
    );
    await until(
      'PostgreSQL to accept a connection',
      async () => {
        if (!running) throw new Error(`PostgreSQL exited at start (log: ${logFile})`);
        const client = new pg.Client({ connectionString: admin('postgres'), connectionTimeoutMillis: 1_000 });
        try {
          await client.connect();
          await client.end();
          return true;
        } catch {
          return false;
        }
      },
      30_000,
    );
  };
  const stop = async (): Promise<void> => {
    child?.kill('SIGINT');
    child = undefined;
    await exited;
  };
  try {
    await start();
  } catch (error) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  return {
    port,
    password,
    logFile,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    async createDatabase() {
      const name = `jobs_${(databases += 1)}`;
      const client = new pg.Client({ connectionString: admin('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return admin(name);
    },
  };
}
