// The batcher on its own, against a pool whose batches finish only when the test says so: every ordering
// below is forced, none is a race against a clock (text-embeddings-inference tests its queue the same way).
import t from 'tap';
import { Batcher } from '../../src/engine/batcher.ts';
import type { BatchPool } from '../../src/engine/batcher.ts';
import { DeadlineExceededError, InferenceFailedError, QueueFullError, ShuttingDownError } from '../../src/engine/errors.ts';
import { textFeeds } from '../../src/engine/feeds.ts';
import type { FeedTensor, RunResult } from '../../src/engine/protocol.ts';
import { CancelledError } from '../../src/errors.ts';
import { Metrics } from '../../src/metrics.ts';
import { WorkerFailedError } from '../../src/workers/errors.ts';
import { counter } from '../helpers/engine-fixtures.ts';

const DIM = 2;

interface Running {
  feeds: FeedTensor[];
  /** Answers the batch: row i is [first id of text i, its length]. */
  finish(): void;
  fail(err: Error): void;
}

/** A pool of `size` workers; each batch waits in `running` until the test finishes or fails it. */
class ManualPool implements BatchPool {
  readonly running: Running[] = [];
  readonly batches: number[][][] = [];
  readonly #listeners: (() => void)[] = [];
  #busy = 0;
  readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  get idle(): number {
    return this.size - this.#busy;
  }

  onAvailable(listener: () => void): void {
    this.#listeners.push(listener);
  }

  run(feeds: FeedTensor[]): Promise<RunResult> {
    this.#busy++;
    const [ids] = feeds as [FeedTensor & { data: BigInt64Array }];
    const [n, seq] = ids.dims as [number, number];
    const rows = Array.from({ length: n }, (_, i) => [...ids.data.subarray(i * seq, (i + 1) * seq)].map(Number).filter((x) => x !== 0));
    this.batches.push(rows);
    return new Promise<RunResult>((resolve, reject) => {
      const done = (): void => {
        this.#busy--;
        for (const listener of this.#listeners) queueMicrotask(listener);
      };
      this.running.push({
        feeds,
        finish: () => {
          const data = new Float32Array(rows.flatMap((r) => [r[0]!, r.length]));
          resolve({ data, dims: [n, DIM], seconds: 0.01, inputs: [...new Set(feeds.map((f) => f.data.buffer as ArrayBuffer))] });
          done();
        },
        fail: (err) => {
          reject(err);
          done();
        },
      });
    });
  }

  /** Finishes the oldest running batch and lets the batcher schedule what it unblocks. */
  async finishNext(): Promise<void> {
    this.running.shift()!.finish();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function setup(options: { size?: number; maxBatchSize?: number; maxQueue?: number; maxDelayMs?: number; cost?: boolean } = {}) {
  const pool = new ManualPool(options.size ?? 1);
  const metrics = new Metrics({ defaultMetrics: false });
  const batcher = new Batcher<number[]>({
    label: { model: 'm', encoder: 'text' },
    config: { maxBatchSize: options.maxBatchSize ?? 4, maxDelayMs: options.maxDelayMs ?? 0, maxQueue: options.maxQueue ?? 1000 },
    pool,
    metrics,
    dim: DIM,
    buildFeeds: (texts, allocate) => textFeeds({ inputIds: 'ids', attentionMask: 'mask', padId: 0, contextLength: 256 }, texts, allocate),
    ...(options.cost === true ? { cost: (ids: number[]) => ids.length } : {}),
  });
  return { pool, batcher, metrics };
}

const text = (first: number, length = 3): number[] => Array.from({ length }, (_, i) => first + i);

t.test('a batch holds at most maxBatchSize items; the next gathers while it runs', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4 });
  const out = batcher.submit(Array.from({ length: 9 }, (_, i) => text(10 * (i + 1))));
  t.same(
    pool.batches.map((b) => b.length),
    [4],
    'one batch at once, the worker is busy',
  );
  await pool.finishNext();
  await pool.finishNext();
  await pool.finishNext();
  t.same(
    pool.batches.map((b) => b.length),
    [4, 4, 1],
  );
  const rows = await out;
  t.same(
    rows.map((r) => [...r]),
    Array.from({ length: 9 }, (_, i) => [10 * (i + 1), 3]),
    'rows come back in input order',
  );
});

t.test('queued texts are grouped by length, the oldest always goes, and each batch is sorted by length', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4, cost: true });
  const held = batcher.submit([text(1)]);
  const queued = Array.from({ length: 8 }, (_, i) => batcher.submit([text(100 + i, i % 2 === 0 ? 3 : 40)]));
  await pool.finishNext();
  await pool.finishNext();
  await pool.finishNext();
  await Promise.all([held, ...queued]);
  const lengths = pool.batches.map((b) => b.map((r) => r.length));
  t.same(lengths, [[3], [3, 3, 3, 3], [40, 40, 40, 40]]);
});

t.test('padding: a batch pads to its longest text rounded up to 8, never to 256', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4 });
  const out = batcher.submit([text(1, 3), text(5, 11)]);
  t.same(pool.running[0]!.feeds[0]!.dims, [2, 16]);
  await pool.finishNext();
  await out;
});

t.test('a full queue refuses with QueueFullError and a Retry-After; the accepted work still finishes', async (t) => {
  const { pool, batcher, metrics } = setup({ maxBatchSize: 2, maxQueue: 3 });
  const held = batcher.submit([text(1), text(2)]);
  const queued = batcher.submit([text(3), text(4), text(5)]);
  const err = await batcher.submit([text(6)]).catch((e: unknown) => e);
  t.ok(err instanceof QueueFullError);
  t.ok((err as QueueFullError).retryAfterSeconds >= 1);
  t.equal(await counter(metrics, 'unimed_queue_depth', { model: 'm', encoder: 'text' }), 3);
  t.equal(await counter(metrics, 'unimed_requests_rejected_total', {}), 0, 'refusals are counted per request by the HTTP layer, not here');
  await pool.finishNext();
  await pool.finishNext();
  await pool.finishNext();
  t.same(
    (await Promise.all([held, queued])).map((r) => r.length),
    [2, 3],
  );
});

t.test('a deadline that passes in the queue: DeadlineExceededError(running=false), and it never runs', async (t) => {
  const { pool, batcher } = setup();
  const held = batcher.submit([text(1)]);
  const late = batcher.submit([text(2)], { deadline: Date.now() + 20 });
  const err = await late.catch((e: unknown) => e);
  t.ok(err instanceof DeadlineExceededError);
  t.equal((err as DeadlineExceededError).running, false);
  t.equal(pool.running.length, 1, 'the held batch was still running when the deadline answered');
  await pool.finishNext();
  await held;
  t.same(
    pool.batches.flat().map((r) => r[0]),
    [1],
    'the expired text never reached a worker',
  );
  const past = await batcher.submit([text(3)], { deadline: Date.now() - 1 }).catch((e: unknown) => e);
  t.match(past, { name: 'DeadlineExceededError', running: false });
});

t.test('a deadline that passes while its batch runs: DeadlineExceededError(running=true) at that moment', async (t) => {
  const { pool, batcher } = setup();
  const running = batcher.submit([text(1)], { deadline: Date.now() + 20 });
  const err = await running.catch((e: unknown) => e);
  t.match(err, { name: 'DeadlineExceededError', running: true });
  t.equal(pool.running.length, 1, 'answered before the batch finished');
  await pool.finishNext();
});

t.test('an aborted request leaves the queue at once and never runs; an already aborted one is never queued', async (t) => {
  const { pool, batcher, metrics } = setup();
  const held = batcher.submit([text(1)]);
  const controller = new AbortController();
  const dropped = batcher.submit([text(2), text(3)], { signal: controller.signal });
  t.equal(await counter(metrics, 'unimed_queue_depth', { model: 'm', encoder: 'text' }), 2);
  controller.abort();
  t.match(await dropped.catch((e: unknown) => e), { name: 'CancelledError', running: false });
  t.equal(await counter(metrics, 'unimed_queue_depth', { model: 'm', encoder: 'text' }), 0);
  await t.rejects(batcher.submit([text(4)], { signal: AbortSignal.abort() }), CancelledError);
  await pool.finishNext();
  await held;
  t.same(
    pool.batches.flat().map((r) => r[0]),
    [1],
  );
});

t.test('a client that leaves while its batch runs: CancelledError(running=true), answered at once', async (t) => {
  const { pool, batcher } = setup();
  const controller = new AbortController();
  const running = batcher.submit([text(1)], { signal: controller.signal }).catch((e: unknown) => e);
  controller.abort();
  t.match(await running, { name: 'CancelledError', running: true });
  t.equal(pool.running.length, 1, 'the batch itself runs on');
  await pool.finishNext();
});

t.test('a worker failure fails every request in its batch with that error', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4 });
  const first = batcher.submit([text(9)]);
  const a = batcher.submit([text(1)]);
  const b = batcher.submit([text(2)]);
  await pool.finishNext();
  await first;
  t.same(
    pool.batches.map((x) => x.length),
    [1, 2],
    'a and b queued behind the first batch, then ran together',
  );
  const failure = new WorkerFailedError('crashed', 'gone');
  pool.running.shift()!.fail(failure);
  t.equal(await a.catch((e: unknown) => e), failure);
  t.equal(await b.catch((e: unknown) => e), failure);
});

t.test('an answer of the wrong size is InferenceFailedError, not a crash', async (t) => {
  const pool = new ManualPool(1);
  const batcher = new Batcher<number[]>({
    label: { model: 'm', encoder: 'text' },
    config: { maxBatchSize: 4, maxDelayMs: 0, maxQueue: 10 },
    pool,
    metrics: new Metrics({ defaultMetrics: false }),
    dim: 3,
    buildFeeds: (texts, allocate) => textFeeds({ inputIds: 'ids', attentionMask: 'mask', padId: 0, contextLength: 256 }, texts, allocate),
  });
  const out = batcher.submit([text(1)]).catch((e: unknown) => e);
  await pool.finishNext();
  t.ok((await out) instanceof InferenceFailedError);
});

t.test('input buffers come back with the answer and feed the next batch', async (t) => {
  const { pool, batcher } = setup();
  const first = batcher.submit([text(1, 200)]);
  const buffers = new Set(pool.running[0]!.feeds.map((f) => f.data.buffer));
  await pool.finishNext();
  await first;
  const second = batcher.submit([text(7, 3)]);
  const reused = pool.running[0]!.feeds.map((f) => f.data.buffer);
  t.ok(
    reused.every((b) => buffers.has(b)),
    'both tensors of the next batch use buffers that came back',
  );
  t.same(pool.batches[1], [[7, 8, 9]], 'what the buffers held before (200 ids, a mask of ones) does not leak');
  await pool.finishNext();
  await second;
});

t.test('close() runs what is queued without waiting for company, then refuses new work', async (t) => {
  const { pool, batcher } = setup({ maxDelayMs: 60_000 });
  const queued = batcher.submit([text(1)]);
  t.equal(pool.running.length, 0, 'waiting for company');
  const closed = batcher.close();
  t.equal(pool.running.length, 1, 'closing sends it at once');
  await t.rejects(batcher.submit([text(2)]), ShuttingDownError);
  await pool.finishNext();
  await Promise.all([queued, closed]);
});

t.test('fairness: a request queued behind a large one gets its share of the next batch, not the leftovers', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4 });
  const held = batcher.submit([text(1)], { owner: 'held' });
  const large = batcher.submit(
    Array.from({ length: 12 }, (_, i) => text(100 + 10 * i)),
    { owner: 'large' },
  );
  const small = batcher.submit([text(900), text(910)], { owner: 'small' });
  let smallDone = false;
  void small.then(() => (smallDone = true));
  await pool.finishNext();
  t.same(
    pool.batches[1]!.map((r) => r[0]),
    [100, 110, 900, 910],
    'ceil(4 / 2) = 2 items each, oldest first',
  );
  await pool.finishNext();
  t.ok(smallDone, 'the small request is answered with the first batch after the held one');
  t.same(
    pool.batches[2]!.map((r) => r[0]),
    [120, 130, 140, 150],
    'no one else waits: the large request fills the batch',
  );
  for (let i = 0; i < 3; i++) await pool.finishNext();
  t.same(
    pool.batches.map((b) => b.length),
    [1, 4, 4, 4, 2],
  );
  t.same((await large).length, 12);
  await held;
});

t.test('fairness: three owners share ceil(batch / 3) each, the oldest first; a short owner leaves room to the others', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 5 });
  const held = batcher.submit([text(1)]);
  const a = batcher.submit([text(100), text(110), text(120), text(130)], { owner: 'a' });
  const b = batcher.submit([text(200), text(210), text(220), text(230)], { owner: 'b' });
  const c = batcher.submit([text(300)], { owner: 'c' });
  await pool.finishNext();
  t.same(
    pool.batches[1]!.map((r) => r[0]),
    [100, 110, 200, 210, 300],
    'a 2, b 2 (share ceil(5 / 3) = 2), c its only one',
  );
  await pool.finishNext();
  t.same(
    pool.batches[2]!.map((r) => r[0]),
    [120, 130, 220, 230],
  );
  await pool.finishNext();
  t.same(
    (await Promise.all([held, a, b, c])).map((rows) => rows.length),
    [1, 4, 4, 1],
  );
});

t.test("fairness keeps length grouping: an owner's share is taken from the texts closest in length to the oldest", async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 4, cost: true });
  const held = batcher.submit([text(1)]);
  // The large owner has short and long texts; the small owner one short text, queued last.
  const large = batcher.submit([text(100, 3), text(110, 40), text(120, 3), text(130, 40), text(140, 3)], { owner: 'large' });
  const small = batcher.submit([text(900, 4)], { owner: 'small' });
  await pool.finishNext();
  t.same(
    pool.batches[1]!.map((r) => r[0]),
    [100, 120, 140, 900],
    'the short texts of both, sorted by length; the long ones wait',
  );
  await pool.finishNext();
  t.same(
    pool.batches[2]!.map((r) => r.length),
    [40, 40],
  );
  await pool.finishNext();
  await Promise.all([held, large, small]);
});

t.test('with a cost, the queue is bounded in cost (tokens), not in items', async (t) => {
  const { pool, batcher } = setup({ maxBatchSize: 2, maxQueue: 20, cost: true });
  const held = batcher.submit([text(1, 3)]);
  const queued = batcher.submit([text(10, 8), text(20, 8)]);
  const err = await batcher.submit([text(30, 5)]).catch((e: unknown) => e);
  t.ok(err instanceof QueueFullError, '16 tokens waiting + 5 > 20');
  t.match((err as Error).message, /16 tokens waiting, 5 more asked/);
  const fits = batcher.submit([text(40, 4)]);
  t.pass('16 + 4 = 20 tokens fit');
  for (let i = 0; i < 3; i++) await pool.finishNext();
  t.same(
    (await Promise.all([held, queued, fits])).map((r) => r.length),
    [1, 2, 1],
  );
});
