/**
 * What every job store must do (src/service/jobs/store.ts), run against each implementation by its own test file:
 * idempotent insert, scoping by key, claims that never hand one job to two runners, leases that end and move, the
 * owner check on settling, retention, the summary the metrics read, and a watch's memory.
 */
import type { Test } from 'tap';
import { JobCipher } from '../../../src/service/jobs/cipher.ts';
import type { JobStore, NewJob } from '../../../src/service/jobs/store.ts';

export const CIPHER = new JobCipher('store-contract-key-0123456789abcdef0123');

let counter = 0;
function job(keyId: string, idempotencyKey?: string): NewJob {
  counter += 1;
  return {
    id: `job-${process.pid}-${counter}`,
    keyId,
    idempotencyKey,
    bodyHash: 'h',
    request: { study: `1.2.3.${counter}` },
    sources: ['*'],
  };
}

/** `open` gives an empty store (a fresh file or schema); each subtest opens its own. */
export function storeContract(t: Test, open: () => Promise<JobStore>): void {
  t.test('insert, get, list: scoped by key, idempotent per key, sealed values read back', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const first = job('a', 'k1');
    t.equal(await store.insert(first, 1000), true);
    t.equal(await store.insert({ ...job('a', 'k1') }, 1001), false, 'same key and idempotency key: nothing written');
    t.equal(await store.insert(job('b', 'k1'), 1002), true, "another key's k1 is its own");
    t.equal(await store.insert(job('a'), 1003), true, 'without an idempotency key: always new');
    t.equal(await store.insert(job('a'), 1004), true);
    t.match(await store.get(first.id, 'a'), { id: first.id, status: 'queued', attempts: 0, request: first.request, createdAt: 1000 });
    t.equal(await store.get(first.id, 'b'), undefined, "b does not see a's job");
    t.match(await store.findByIdempotencyKey('a', 'k1'), { row: { id: first.id }, bodyHash: 'h' });
    const page = await store.list('a', undefined, 0, 2);
    t.equal(page.length, 2);
    const rest = await store.list('a', 'queued', page[1]!.seq, 10);
    t.equal(rest.length, 1, 'paged after the last seq');
    t.equal(await store.unfinishedCount('a'), 3);
    t.equal(await store.unfinishedCount(), 4);
  });

  t.test('claims: oldest first, never twice; leases renew, end, and move to a new owner', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const [one, two] = [job('a'), job('a')];
    await store.insert(one, 10);
    await store.insert(two, 20);
    const first = await store.claim(100, 200);
    t.equal(first?.row.id, one.id, 'oldest first');
    t.equal(first?.row.attempts, 1);
    const second = await store.claim(100, 200);
    t.equal(second?.row.id, two.id, 'the next, not the one held');
    t.equal(await store.claim(100, 200), undefined, 'none left');
    t.equal(await store.nextDue(), 200, 'the first lease to end');
    t.equal(await store.renew(one.id, first!.owner, 300), true, 'the owner renews');
    t.equal(await store.renew(one.id, 'someone-else', 900), false, 'another token does not');
    const taken = await store.claim(250, 400);
    t.equal(taken?.row.id, two.id, 'the lease that ended (200 < 250) is claimed again; the renewed one (300) is not');
    t.equal(taken?.row.attempts, 2);
    t.not(taken?.owner, second?.owner);
    t.equal(await store.finish(two.id, second!.owner, { status: 'done', result: 1 }, 260), false, 'the old owner cannot settle it');
    t.equal(await store.retry(two.id, second!.owner, 260, undefined), false);
    t.equal(await store.renew(two.id, second!.owner, 900), false, 'nor keep it');
    t.equal(await store.finish(two.id, taken!.owner, { status: 'done', result: { ok: true } }, 270), true);
    t.match(await store.get(two.id, 'a'), { status: 'done', result: { ok: true } });
    t.equal(await store.retry(one.id, first!.owner, 500, { code: 'upstream_unavailable', message: 'down' }), true);
    t.match(await store.get(one.id, 'a'), { status: 'queued', error: { code: 'upstream_unavailable' } });
    t.equal(await store.nextDue(), 500, 'due after its backoff');
    t.equal(await store.claim(499, 600), undefined, 'not before');
    const again = await store.claim(500, 600);
    t.equal(again?.row.attempts, 2);
    t.equal(await store.finish(one.id, again!.owner, { status: 'failed', error: { code: 'x', message: 'y' } }, 510), true);
    t.equal(await store.nextDue(), undefined);
    t.same(await store.summary(), { counts: { queued: 0, running: 0, done: 1, failed: 1 }, oldestQueuedAt: undefined });
  });

  t.test('concurrent claims hand each job to one claimant', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    for (let i = 0; i < 20; i += 1) await store.insert(job('a'), i);
    const claims = await Promise.all(Array.from({ length: 30 }, () => store.claim(100, 1000)));
    const ids = claims.filter((c) => c !== undefined).map((c) => c.row.id);
    t.equal(ids.length, 20);
    t.equal(new Set(ids).size, 20, 'no job twice');
  });

  t.test('retention, summary, and a watch memory', async (t) => {
    const store = await open();
    t.teardown(() => store.close());
    const [old, recent, waiting] = [job('a'), job('a'), job('a')];
    await store.insert(old, 1);
    await store.insert(recent, 2);
    await store.insert(waiting, 3);
    for (const [item, at] of [
      [old, 100],
      [recent, 200],
    ] as const) {
      const claimed = await store.claim(at, at + 50);
      t.equal(claimed?.row.id, item.id);
      await store.finish(item.id, claimed!.owner, { status: 'done', result: null }, at);
    }
    t.same(await store.summary(), { counts: { queued: 1, running: 0, done: 2, failed: 0 }, oldestQueuedAt: 3 });
    t.equal(await store.deleteFinished(150), 1, 'the job finished before the cut');
    t.equal(await store.get(old.id, 'a'), undefined);
    t.ok(await store.get(recent.id, 'a'));
    t.ok(await store.get(waiting.id, 'a'), 'an unfinished job is never deleted');

    t.equal(await store.watchBegun('ct'), false);
    t.same(await store.unseen('ct', ['s1', 's2']), ['s1', 's2']);
    await store.markSeen('ct', ['s1'], 10);
    await store.markSeen('ct', ['s1'], 11);
    t.same(await store.unseen('ct', ['s1', 's2']), ['s2']);
    t.same(await store.unseen('mr', ['s1']), ['s1'], 'each watch its own memory');
    await store.beginWatch('ct', 12);
    await store.beginWatch('ct', 13);
    t.equal(await store.watchBegun('ct'), true);
    t.equal(await store.watchBegun('mr'), false);
  });
}
