import { performance } from 'node:perf_hooks';
import type { BatchingConfig, EncoderKind } from '../config.ts';
import { CancelledError, deadlineExceeded, unavailable } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { RequestOptions } from '../models/types.ts';
import { BufferRecycler } from './buffer-recycler.ts';
import type { AllocateBuffer } from './feeds.ts';
import type { RunResult } from './inference-worker.ts';
import type { WorkerPool } from './pool.ts';
import type { FeedTensor } from './protocol.ts';

/** Turns one batch of payloads into the encoder's input tensors, in buffers from `allocate`. */
export type FeedBuilder<P> = (payloads: P[], allocate: AllocateBuffer) => FeedTensor[];

export interface BatcherOptions<P> {
  model: string;
  encoder: EncoderKind;
  config: BatchingConfig;
  pool: WorkerPool;
  metrics: Metrics;
  buildFeeds: FeedBuilder<P>;
  /** Embedding size D: the output of a batch of n is n x D. */
  dim: number;
  /** When given, batches group payloads of similar cost (texts of similar length: less padding). */
  cost?: (payload: P) => number;
}

/** All the items of one submit() call: they succeed or fail together. */
interface Group {
  results: Float32Array[];
  remaining: number;
  settled: boolean;
  resolve: (rows: Float32Array[]) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

interface Item<P> {
  payload: P;
  group: Group;
  index: number;
  enqueuedAt: number;
}

const EWMA_ALPHA = 0.2;
const MAX_RETRY_AFTER_S = 60;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Micro-batcher for one model encoder (the queue + batching task of text-embeddings-inference): items wait at
 * most `maxDelayMs` for company, batches hold at most `maxBatchSize` items, at most one batch runs per worker,
 * and the next one gathers in the queue meanwhile. The queue is bounded; a request whose client left is
 * dropped before it runs and one whose deadline passes gets 504 at that moment, not a late answer.
 */
export class Batcher<P> {
  readonly #o: BatcherOptions<P>;
  readonly #labels: { model: string; encoder: EncoderKind };
  #queue: Item<P>[] = [];
  readonly #buffers: BufferRecycler;
  #timer: NodeJS.Timeout | undefined;
  #inflight = 0;
  #closing = false;
  #drained: (() => void)[] = [];
  /** Items per second one worker gets through, smoothed; undefined until a batch has run. */
  #itemsPerSecond: number | undefined;
  /** Items that ever went to a worker (tests use it to prove dropped work never ran). */
  itemsRun = 0;
  readonly #batchListeners = new Set<(costs: number[]) => void>();

  constructor(options: BatcherOptions<P>) {
    this.#o = options;
    this.#labels = { model: options.model, encoder: options.encoder };
    // Enough for every worker's batch (up to two input tensors each) plus the one being built.
    this.#buffers = new BufferRecycler(2 * (options.pool.size + 1));
    options.pool.onAvailable(() => this.#schedule());
    this.#setDepth();
  }

  /** Observes every batch as it is dispatched: the cost of each item (1 each without `cost`). Returns an unsubscribe. */
  onBatch(listener: (costs: number[]) => void): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  get queueLength(): number {
    return this.#queue.length;
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Input buffers back from the workers, waiting to be reused. */
  get buffersKept(): number {
    return this.#buffers.kept;
  }

  /** Embeds the payloads (raw model outputs, one row per payload, in order). */
  submit(payloads: P[], options: RequestOptions = {}): Promise<Float32Array[]> {
    if (payloads.length === 0) return Promise.resolve([]);
    const { signal, deadline } = options;
    if (this.#closing) return this.#refuse(unavailable('the service is shutting down', 'shutting_down'), 'shutting_down');
    if (signal?.aborted) return this.#refuse(new CancelledError(), 'client_gone');
    if (deadline !== undefined && deadline <= Date.now()) return this.#refuse(deadlineExceeded(), 'deadline');
    if (this.#queue.length + payloads.length > this.#o.config.maxQueue) {
      const message = `the ${this.#o.encoder} queue of model ${this.#o.model} is full (${this.#queue.length} items waiting); retry later`;
      return this.#refuse(unavailable(message, 'queue_full', this.retryAfterSeconds(payloads.length)), 'queue_full');
    }

    return new Promise<Float32Array[]>((resolve, reject) => {
      let deadlineTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.#fail(group, new CancelledError(), 'client_gone');
      const group: Group = {
        results: new Array<Float32Array>(payloads.length),
        remaining: payloads.length,
        settled: false,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(deadlineTimer);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // setTimeout fires at once past 2^31-1 ms: a deadline that far away is no deadline at all.
      if (deadline !== undefined && deadline - Date.now() <= MAX_TIMER_MS) {
        deadlineTimer = setTimeout(() => this.#fail(group, deadlineExceeded(), 'deadline'), deadline - Date.now());
      }
      const now = performance.now();
      payloads.forEach((payload, index) => this.#queue.push({ payload, group, index, enqueuedAt: now }));
      this.#setDepth();
      this.#schedule();
    });
  }

  /** Seconds until the queue has likely drained enough to take `incoming` more items. */
  retryAfterSeconds(incoming = 1): number {
    const rate = this.#itemsPerSecond;
    if (rate === undefined || rate <= 0) return 1;
    const seconds = (this.#queue.length + incoming) / (rate * this.#o.pool.size);
    return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(seconds)));
  }

  /** Refuses new work, runs what is queued without waiting for company, resolves when nothing is left. */
  close(): Promise<void> {
    this.#closing = true;
    this.#schedule();
    if (this.#queue.length === 0 && this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  #refuse(err: Error, reason: string): Promise<never> {
    this.#o.metrics.requestsRejected.inc({ reason });
    return Promise.reject(err);
  }

  #setDepth(): void {
    this.#o.metrics.queueDepth.set(this.#labels, this.#queue.length);
  }

  /** Settles a group with an error and takes its items that have not run yet out of the queue. */
  #fail(group: Group, err: Error, reason: string): void {
    if (group.settled) return;
    group.settled = true;
    group.cleanup();
    const before = this.#queue.length;
    this.#queue = this.#queue.filter((item) => item.group !== group);
    if (this.#queue.length !== before) this.#setDepth();
    this.#o.metrics.requestsRejected.inc({ reason });
    group.reject(err);
    this.#checkDrained();
  }

  #schedule(): void {
    const { maxBatchSize, maxDelayMs } = this.#o.config;
    for (;;) {
      if (this.#queue.length === 0) break;
      const waited = performance.now() - this.#queue[0]!.enqueuedAt;
      const due = this.#closing || this.#queue.length >= maxBatchSize || waited >= maxDelayMs;
      if (!due) {
        if (this.#timer === undefined) {
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#schedule();
          }, Math.max(0, maxDelayMs - waited));
        }
        return;
      }
      const worker = this.#o.pool.idleWorker();
      // No idle worker: the finishing batch's onAvailable calls us again, and the queue is due by then.
      if (worker === undefined) return;
      this.#dispatch(worker, this.#takeBatch());
    }
    this.#checkDrained();
  }

  /** The oldest item always goes (no starvation); with `cost`, its companions are the closest in cost. */
  #takeBatch(): Item<P>[] {
    const max = this.#o.config.maxBatchSize;
    const cost = this.#o.cost;
    let batch: Item<P>[];
    if (this.#queue.length <= max) {
      batch = this.#queue;
      this.#queue = [];
    } else if (cost === undefined) {
      batch = this.#queue.splice(0, max);
    } else {
      const anchor = cost(this.#queue[0]!.payload);
      const ranked = this.#queue.map((item, position) => ({ position, distance: Math.abs(cost(item.payload) - anchor) }));
      ranked.sort((a, b) => a.distance - b.distance || a.position - b.position);
      const chosen = new Set(ranked.slice(0, max).map((r) => r.position));
      batch = this.#queue.filter((_, position) => chosen.has(position));
      this.#queue = this.#queue.filter((_, position) => !chosen.has(position));
    }
    if (cost !== undefined) batch.sort((a, b) => cost(a.payload) - cost(b.payload));
    this.#setDepth();
    return batch;
  }

  #dispatch(worker: Parameters<WorkerPool['run']>[0], batch: Item<P>[]): void {
    const now = performance.now();
    for (const item of batch) this.#o.metrics.queueWait.observe(this.#labels, (now - item.enqueuedAt) / 1000);
    this.#o.metrics.batchSize.observe(this.#labels, batch.length);
    this.#o.metrics.inflightBatches.inc(this.#labels);
    this.#inflight++;
    this.itemsRun += batch.length;
    if (this.#batchListeners.size > 0) {
      const costs = batch.map((item) => this.#o.cost?.(item.payload) ?? 1);
      for (const listener of this.#batchListeners) listener(costs);
    }

    // run() is called synchronously so the worker is busy before the scheduling loop looks for the next idle
    // one. Building the feeds may throw (a malformed payload): that fails this batch, never the process.
    let run: Promise<RunResult>;
    try {
      run = this.#o.pool.run(worker, this.#o.buildFeeds(batch.map((item) => item.payload), (bytes) => this.#buffers.take(bytes)));
    } catch (err) {
      run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    run.then(
      (result): void => {
        this.#buffers.give(result.inputs);
        const dim = this.#o.dim;
        if (result.data.length !== batch.length * dim) {
          throw unavailable(`the ${this.#o.encoder} encoder returned ${result.data.length} values for ${batch.length} x ${dim}`, 'inference_failed');
        }
        this.#o.metrics.inferenceDuration.observe(this.#labels, result.seconds);
        const rate = batch.length / Math.max(result.seconds, 1e-6);
        this.#itemsPerSecond = this.#itemsPerSecond === undefined ? rate : EWMA_ALPHA * rate + (1 - EWMA_ALPHA) * this.#itemsPerSecond;
        batch.forEach((item, row) => {
          const group = item.group;
          if (group.settled) return;
          group.results[item.index] = result.data.slice(row * dim, (row + 1) * dim);
          if (--group.remaining === 0) {
            group.settled = true;
            group.cleanup();
            group.resolve(group.results);
          }
        });
      },
    ).catch(
      (err: Error) => {
        const reason = (err as { code?: string }).code ?? 'worker_failed';
        const failed = new Set(batch.map((item) => item.group));
        for (const group of failed) this.#fail(group, err, reason);
      },
    ).finally(() => {
      this.#inflight--;
      this.#o.metrics.inflightBatches.dec(this.#labels);
      this.#schedule();
    });
  }

  #checkDrained(): void {
    if (!this.#closing || this.#queue.length > 0 || this.#inflight > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}
