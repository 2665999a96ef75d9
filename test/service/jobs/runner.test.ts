// The job runner on a real SQLite store: a running job's lease is renewed while it runs (no other runner can take
// it); a runner whose lease was taken (it stalled past it) is aborted and its outcome dropped, the new owner's
// kept; a job whose process stopped during every try fails after JOBS_MAX_ATTEMPTS claims.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { JobRunner, type JobWork, type RunnerConfig } from '../../../src/service/jobs/runner.ts';
import { SqliteJobStore } from '../../../src/service/jobs/sqlite-store.ts';
import { until } from '../../helpers/common.ts';
import { CIPHER } from './store-contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'unimed-runner-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const LEASE_MS = 300;
const config: RunnerConfig = { concurrency: 1, maxAttempts: 3, backoffMs: 10, leaseMs: LEASE_MS, retentionMs: 3_600_000 };
const quiet = { warn: () => undefined, info: () => undefined };
let files = 0;

/** A store that counts lease renewals (the real store underneath). */
class CountingStore extends SqliteJobStore {
  renewals = 0;
  override async renew(id: string, owner: string, leaseUntil: number): Promise<boolean> {
    this.renewals += 1;
    return super.renew(id, owner, leaseUntil);
  }
}

function setup(t: Test, work: JobWork) {
  const store = new CountingStore(join(dir, `jobs-${(files += 1)}.sqlite`), CIPHER);
  const runner = new JobRunner(store, config, work, quiet);
  t.teardown(async () => {
    await runner.close();
    await store.close();
  });
  const settled = (id: string) =>
    new Promise<string>((resolve) =>
      runner.events.on('settled', (settledId: string, status: string) => settledId === id && resolve(status)),
    );
  return { store, runner, settled };
}

const newJob = (id: string) => ({ id, keyId: 'a', idempotencyKey: undefined, bodyHash: 'h', request: {}, sources: ['*'] });

t.test('a long job keeps its lease: renewed while it runs, so no other runner claims it', async (t) => {
  let finish!: () => void;
  const { store, runner, settled } = setup(t, () => new Promise((resolve) => (finish = () => resolve('ok'))));
  await store.insert(newJob('long'), Date.now());
  runner.start();
  await until('the job to start', () => finish !== undefined);
  const startedAt = Date.now();
  await until('three renewals', () => store.renewals >= 3, 5_000);
  t.ok(Date.now() - startedAt >= LEASE_MS * 0.9, 'running past its first lease');
  t.equal(await store.claim(Date.now(), Date.now() + LEASE_MS), undefined, 'still held: nobody else can claim it');
  const done = settled('long');
  finish();
  t.equal(await done, 'done');
  t.match(await store.get('long', 'a'), { status: 'done', attempts: 1, result: 'ok' });
});

t.test('a runner that lost its lease is aborted and its outcome dropped; the new owner settles the job', async (t) => {
  let aborted = false;
  const { store, runner } = setup(
    t,
    (_job, signal) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(new Error('aborted'));
        });
      }),
  );
  await store.insert(newJob('stolen'), Date.now());
  runner.start();
  await until('the job to be claimed', async () => (await store.get('stolen', 'a'))?.status === 'running');
  // Another runner, whose clock is past the lease, takes the job (as a replica would after a stall).
  const thief = await store.claim(Date.now() + 10 * LEASE_MS, Date.now() + 100 * LEASE_MS);
  t.equal(thief?.row.id, 'stolen');
  await until('the first runner to notice and abort', () => aborted, 5_000);
  t.match(await store.get('stolen', 'a'), { status: 'running', attempts: 2 }, 'the first runner wrote nothing');
  t.equal(await store.finish('stolen', thief!.owner, { status: 'done', result: 'theirs' }, Date.now()), true);
  t.match(await store.get('stolen', 'a'), { status: 'done', result: 'theirs' });
});

t.test('a job whose process stopped during each of its tries fails after JOBS_MAX_ATTEMPTS claims', async (t) => {
  let runs = 0;
  const { store, runner, settled } = setup(t, () => {
    runs += 1;
    return Promise.resolve('never');
  });
  await store.insert(newJob('poison'), Date.now());
  // Three claims whose runners died (their leases ended at once).
  for (let i = 0; i < 3; i += 1) t.ok(await store.claim(Date.now() + i * 10, Date.now() - 1));
  const failed = settled('poison');
  runner.start();
  t.equal(await failed, 'failed');
  t.equal(runs, 0, 'not run a fourth time');
  t.match(await store.get('poison', 'a'), {
    status: 'failed',
    attempts: 4,
    error: { code: 'internal_error', message: /each of its 3 tries/ },
  });
});
