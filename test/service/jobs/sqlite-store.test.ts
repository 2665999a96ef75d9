// The SQLite job store (JOBS_DB) against the store contract, on real files; and a file of the first release
// (no lease owners) opened by this one.
import { mkdtempSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SqliteJobStore } from '../../../src/service/jobs/sqlite-store.ts';
import { CIPHER, storeContract } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimed-sqlite-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
storeContract(t, () => Promise.resolve(new SqliteJobStore(join(dir, `jobs-${(files += 1)}.sqlite`), CIPHER)));

t.test('a file written before leases had owners gains the column and its queued jobs run', async (t) => {
  const file = join(dir, 'old.sqlite');
  const old = new DatabaseSync(file);
  old.exec(`CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL,
    idempotency_key TEXT, body_hash TEXT NOT NULL, request TEXT NOT NULL, sources TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, not_before INTEGER NOT NULL, lease_until INTEGER, error TEXT, result TEXT,
    created_at INTEGER NOT NULL, finished_at INTEGER, UNIQUE (key_id, idempotency_key))`);
  old
    .prepare(
      "INSERT INTO jobs (id, key_id, body_hash, request, sources, status, not_before, created_at) VALUES (?, 'a', 'h', ?, '[\"*\"]', 'queued', 0, 0)",
    )
    .run('old-job', CIPHER.seal('old-job', { study: '1.2' }));
  old.close();
  const store = new SqliteJobStore(file, CIPHER);
  t.teardown(() => store.close());
  const claimed = await store.claim(1, 100);
  t.match(claimed, { row: { id: 'old-job', request: { study: '1.2' } } });
  t.equal(await store.finish('old-job', claimed!.owner, { status: 'done', result: 1 }, 2), true);
});
