// The process-wide memory budget on its own: reservations within the limit, first come first served within
// each line (a large one at the head is not overtaken by a later large one), small ones never behind large ones,
// large ones within their share, never more reserved than the limit, every way out of the line (wait expired,
// deadline, client gone) holding nothing, and the reserved bytes back to 0 once all are released.
import t from 'tap';
import { DeadlineExceededError } from '../../src/engine/errors.ts';
import { CancelledError, ServiceError } from '../../src/errors.ts';
import { LARGE_SHARE, MemoryBudget, SMALL_SHARE } from '../../src/inputs/memory-budget.ts';

/** A budget that records the most it ever had reserved. */
function budget(limitBytes: number, maxWaitMs = 60_000) {
  const seen = { peak: 0, reports: 0 };
  const memory = new MemoryBudget({
    limitBytes,
    maxWaitMs,
    onChange: (reserved) => {
      seen.peak = Math.max(seen.peak, reserved);
      seen.reports += 1;
    },
  });
  return { memory, seen };
}

t.test('reservations within the limit are granted at once; release gives the bytes back, once', async (t) => {
  const { memory, seen } = budget(1600);
  const a = await memory.reserve(1500);
  const b = await memory.reserve(100);
  t.equal(memory.reservedBytes, 1600);
  a.release();
  a.release();
  t.equal(memory.reservedBytes, 100, 'a second release of the same reservation changes nothing');
  b.release();
  t.equal(memory.reservedBytes, 0);
  t.equal(seen.peak, 1600);
});

t.test('over the whole budget: 413 image_too_large at once, nothing reserved', async (t) => {
  const { memory } = budget(100);
  await t.rejects(memory.reserve(101), { code: 'image_too_large', message: /MEMORY_BUDGET_BYTES/ });
  t.equal(memory.reservedBytes, 0);
  t.equal(memory.waiting, 0);
});

// With a budget of 1600: small means at most 100 (1/16), and large ones together hold at most 1200 (3/4).
t.test('large reservations queue in arrival order; a small one goes past them when it fits', async (t) => {
  const { memory, seen } = budget(1600);
  t.equal(SMALL_SHARE * 1600, 100);
  const held = await memory.reserve(1000);
  const order: string[] = [];
  const large = memory.reserve(700).then((r) => (order.push('large'), r));
  const later = memory.reserve(150).then((r) => (order.push('later large'), r));
  t.equal(memory.waiting, 2, 'the later large one waits although it would fit: the first large one came first');
  const small = await memory.reserve(100);
  t.equal(memory.reservedBytes, 1100, 'the small one was granted at once, past both large ones');
  held.release();
  const [first, second] = await Promise.all([large, later]);
  t.same(order, ['large', 'later large'], 'granted in arrival order');
  t.equal(memory.reservedBytes, 950);
  for (const r of [first, second, small]) r.release();
  t.equal(memory.reservedBytes, 0);
  t.ok(seen.peak <= 1600, `never more than the limit reserved (peak ${seen.peak})`);
});

t.test('large reservations together hold at most 3/4 of the budget (one alone more); the rest stays for small ones', async (t) => {
  const { memory } = budget(1600);
  t.equal(LARGE_SHARE * 1600, 1200);
  const alone = await memory.reserve(1500);
  t.equal(memory.reservedBytes, 1500, 'one large reservation alone may take more than the share');
  alone.release();
  const first = await memory.reserve(1000);
  const second = memory.reserve(300);
  t.equal(memory.waiting, 1, '1000 + 300 would fit the budget but not the large share');
  const smalls = await Promise.all([memory.reserve(100), memory.reserve(100), memory.reserve(100)]);
  t.equal(memory.reservedBytes, 1300, 'small ones use what the large share leaves');
  first.release();
  const granted = await second;
  t.equal(memory.reservedBytes, 600);
  for (const r of [granted, ...smalls]) r.release();
  t.equal(memory.reservedBytes, 0);
});

t.test('many reservations through a small budget: never over the limit, all served, back to 0', async (t) => {
  const { memory, seen } = budget(1000);
  const done = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const r = await memory.reserve(100 + (i % 7) * 50);
      // Hold it across a turn of the event loop, as a decode would.
      await new Promise((resolve) => setImmediate(resolve));
      r.release();
      return r.bytes;
    }),
  );
  t.equal(done.length, 50);
  t.ok(seen.peak <= 1000, `peak ${seen.peak} within the limit`);
  t.equal(memory.reservedBytes, 0);
  t.equal(memory.waiting, 0);
});

t.test('past MEMORY_WAIT_MS: 503 memory_busy with Retry-After, and the waiter behind it moves up', async (t) => {
  const { memory } = budget(100, 50);
  const held = await memory.reserve(60);
  const refused = memory.reserve(50);
  await t.rejects(refused, { code: 'memory_busy', retryAfterSeconds: 1, message: /MEMORY_WAIT_MS/ });
  t.ok((await refused.catch((e: unknown) => e)) instanceof ServiceError);
  t.equal(memory.waiting, 0);
  t.equal(memory.reservedBytes, 60, 'the refused reservation holds nothing');
  held.release();
  t.equal(memory.reservedBytes, 0);
});

t.test('the client leaving drops its reservation from the line; the one behind it is granted', async (t) => {
  const { memory } = budget(1600);
  const held = await memory.reserve(500);
  const client = new AbortController();
  const leaving = memory.reserve(1300, { signal: client.signal });
  const staying = memory.reserve(400);
  t.equal(memory.waiting, 2);
  client.abort();
  await t.rejects(leaving, CancelledError);
  const granted = await staying;
  t.equal(memory.reservedBytes, 900, 'the 400 behind the departed head fit next to the 500 held');
  granted.release();
  held.release();
  t.equal(memory.reservedBytes, 0);
  await t.rejects(memory.reserve(10, { signal: client.signal }), CancelledError, 'a client already gone is not queued');
});

t.test('the request deadline ends the wait: DeadlineExceededError (504), nothing held', async (t) => {
  const { memory } = budget(100);
  const held = await memory.reserve(100);
  await t.rejects(memory.reserve(10, { deadline: Date.now() + 30 }), DeadlineExceededError);
  await t.rejects(memory.reserve(10, { deadline: Date.now() - 1 }), DeadlineExceededError, 'a deadline already past');
  t.equal(memory.waiting, 0);
  held.release();
  t.equal(memory.reservedBytes, 0);
});

t.test('raising the limit lets waiters that now fit go ahead', async (t) => {
  const { memory } = budget(100);
  const held = await memory.reserve(100);
  const waiting = memory.reserve(50);
  memory.setLimit(400);
  const granted = await waiting;
  t.equal(memory.limitBytes, 400);
  granted.release();
  held.release();
  t.equal(memory.reservedBytes, 0);
});
