// The jobs' store variables (docs/pacs.md "Jobs"): JOBS_DB (SQLite, one process) or JOBS_DATABASE_URL (PostgreSQL,
// replicas), never both; JOBS_KEY_FILE required with either; a URL that is not postgres:// refused without
// repeating it (it holds a password); JOBS_DATABASE_POOL bounded.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimed-jobs-config-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, 'jobs-key');
writeFileSync(keyFile, 'jobs-config-key-0123456789abcdef0123\n');
const URL = 'postgres://unimed:s3cret-pw@db.example:5432/jobs';

t.test('neither store: no jobs, and no key needed', (t) => {
  const { jobs } = loadConfig({});
  t.match(jobs, { db: undefined, databaseUrl: undefined, keySecret: undefined, databasePool: 4 });
  t.end();
});

t.test('JOBS_DATABASE_URL: PostgreSQL, with the key file', (t) => {
  const { jobs } = loadConfig({ JOBS_DATABASE_URL: URL, JOBS_KEY_FILE: keyFile, JOBS_DATABASE_POOL: '8' });
  t.match(jobs, { db: undefined, databaseUrl: URL, keySecret: 'jobs-config-key-0123456789abcdef0123', databasePool: 8 });
  t.equal(loadConfig({ JOBS_DATABASE_URL: 'postgresql://h/d', JOBS_KEY_FILE: keyFile }).jobs.databaseUrl, 'postgresql://h/d');
  t.end();
});

t.test('JOBS_DB: SQLite, with the key file', (t) => {
  const { jobs } = loadConfig({ JOBS_DB: join(dir, 'jobs.sqlite'), JOBS_KEY_FILE: keyFile });
  t.match(jobs, { db: join(dir, 'jobs.sqlite'), databaseUrl: undefined });
  t.end();
});

t.test('both stores: refused, naming both', (t) => {
  t.throws(
    () => loadConfig({ JOBS_DB: join(dir, 'jobs.sqlite'), JOBS_DATABASE_URL: URL, JOBS_KEY_FILE: keyFile }),
    new ConfigError(
      'JOBS_DB and JOBS_DATABASE_URL are both set: the jobs are kept in one store (SQLite for one process, PostgreSQL for replicas)',
    ),
  );
  t.end();
});

t.test('either store without JOBS_KEY_FILE: refused', (t) => {
  t.throws(() => loadConfig({ JOBS_DATABASE_URL: URL }), /JOBS_DATABASE_URL needs JOBS_KEY_FILE/);
  t.throws(() => loadConfig({ JOBS_DB: join(dir, 'jobs.sqlite') }), /JOBS_DB needs JOBS_KEY_FILE/);
  t.end();
});

t.test('a URL that is not PostgreSQL is refused, and the message does not repeat it', (t) => {
  for (const url of ['mysql://unimed:s3cret-pw@db/jobs', 'unimed:s3cret-pw@db/jobs', 'http://unimed:s3cret-pw@db/jobs']) {
    try {
      loadConfig({ JOBS_DATABASE_URL: url, JOBS_KEY_FILE: keyFile });
      t.fail(`${url.split(':')[0]}: accepted`);
    } catch (error) {
      t.ok(error instanceof ConfigError);
      t.match((error as Error).message, /^JOBS_DATABASE_URL: /);
      t.notMatch((error as Error).message, /s3cret/, 'no password in the message');
    }
  }
  t.end();
});

t.test('JOBS_DATABASE_POOL: from 1 to 100', (t) => {
  t.throws(() => loadConfig({ JOBS_DATABASE_POOL: '0' }), /JOBS_DATABASE_POOL/);
  t.throws(() => loadConfig({ JOBS_DATABASE_POOL: '101' }), /JOBS_DATABASE_POOL/);
  t.end();
});
