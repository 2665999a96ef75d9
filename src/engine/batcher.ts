import { performance } from 'node:perf_hooks';
import type { BatchingConfig } from '../config.ts';
import { CancelledError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import type { Cancellation } from './cancellation.ts';
import { selectBatch } from './batch-selection.ts';
import { BufferRecycler } from './buffer-recycler.ts';
import { DeadlineExceededError, InferenceFailedError, QueueFullError, ShuttingDownError } from './errors.ts';
import type { AllocateBuffer } from './feeds.ts';
import type { EncoderLabel, FeedTensor, RunResult } from './protocol.ts';

/** Turns one batch of payloads into the encoder's input tensors, in buffers from `allocate`. */
export type FeedBuilder<P> = (payloads: P[], allocate: AllocateBuffer) => FeedTensor[];

/** What the batcher needs of the workers: how many there are, whether one is free, and running a batch on it. */
export interface BatchPool {
  readonly size: number;
  /** Workers free now: run() given now starts at once. */
  readonly idle: number;
  /** Called whenever a worker may have become free. */
  onAvailable(listener: () => void): void;
  run(feeds: FeedTensor[]): Promise<RunResult>;
}

export interface BatcherOptions<P> {
  label: EncoderLabel;
  config: BatchingConfig;
  pool: BatchPool;
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
  /** Items of the group in a batch a worker is running. */
  running: number;
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
  readonly #labels: EncoderLabel;
  #queue: Item<P>[] = [];
  readonly #buffers: BufferRecycler;
  #timer: NodeJS.Timeout | undefined;
  #inflight = 0;
  #closing = false;
  #drained: (() => void)[] = [];
  /** Items per second one worker gets through, smoothed; undefined until a batch has run. */
  #itemsPerSecond: number | undefined;

  constructor(options: BatcherOptions<P>) {
    this.#o = options;
    this.#labels = options.label;
    // Enough for every worker's batch (up to two input tensors each) plus the one being built.
    this.#buffers = new BufferRecycler(2 * (options.pool.size + 1));
    options.pool.onAvailable(() => this.#schedule());
    this.#setDepth();
  }

  /** Embeds the payloads (raw model outputs, one row per payload, in order). */
  submit(payloads: P[], options: Cancellation = {}): Promise<Float32Array[]> {
    if (payloads.length === 0) return Promise.resolve([]);
    const { signal, deadline } = options;
    if (this.#closing) return Promise.reject(new ShuttingDownError());
    if (signal?.aborted) return Promise.reject(new CancelledError());
    if (deadline !== undefined && deadline <= Date.now()) return Promise.reject(new DeadlineExceededError(false));
    if (this.#queue.length + payloads.length > this.#o.config.maxQueue) {
      const { model, encoder } = this.#labels;
      const message = `the ${encoder} queue of model ${model} is full (${this.#queue.length} items waiting); retry later`;
      return Promise.reject(new QueueFullError(message, this.#retryAfterSeconds(payloads.length)));
    }

    return new Promise<Float32Array[]>((resolve, reject) => {
      let deadlineTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => this.#fail(group, group.running > 0 ? new CancelledError('the client disconnected while its work ran', true) : new CancelledError());
      const group: Group = {
        results: new Array<Float32Array>(payloads.length),
        remaining: payloads.length,
        running: 0,
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
        deadlineTimer = setTimeout(() => this.#fail(group, new DeadlineExceededError(group.running > 0)), deadline - Date.now());
      }
      const now = performance.now();
      payloads.forEach((payload, index) => this.#queue.push({ payload, group, index, enqueuedAt: now }));
      this.#setDepth();
      this.#schedule();
    });
  }

  /** Seconds until the queue has likely drained enough to take `incoming` more items. */
  #retryAfterSeconds(incoming: number): number {
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

  #setDepth(): void {
    this.#o.metrics.queueDepth.set(this.#labels, this.#queue.length);
  }

  /** Settles a group with an error and takes its items that have not run yet out of the queue. */
  #fail(group: Group, err: Error): void {
    if (group.settled) return;
    group.settled = true;
    group.cleanup();
    const before = this.#queue.length;
    this.#queue = this.#queue.filter((item) => item.group !== group);
    if (this.#queue.length !== before) this.#setDepth();
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
      // No idle worker: the finishing batch's onAvailable calls us again, and the queue is due by then.
      if (this.#o.pool.idle === 0) return;
      this.#dispatch(this.#takeBatch());
    }
    this.#checkDrained();
  }

  #takeBatch(): Item<P>[] {
    const cost = this.#o.cost;
    const { batch, rest } = selectBatch(this.#queue, this.#o.config.maxBatchSize, cost === undefined ? undefined : (item) => cost(item.payload));
    this.#queue = rest;
    this.#setDepth();
    return batch;
  }

  #dispatch(batch: Item<P>[]): void {
    const now = performance.now();
    for (const item of batch) this.#o.metrics.queueWait.observe(this.#labels, (now - item.enqueuedAt) / 1000);
    this.#o.metrics.batchSize.observe(this.#labels, batch.length);
    this.#o.metrics.inflightBatches.inc(this.#labels);
    this.#inflight++;
    for (const item of batch) item.group.running++;

    // run() is called synchronously so the worker is busy before the scheduling loop looks for the next idle
    // one. Building the feeds may throw (a malformed payload): that fails this batch, never the process.
    let run: Promise<RunResult>;
    try {
      run = this.#o.pool.run(this.#o.buildFeeds(batch.map((item) => item.payload), (bytes) => this.#buffers.take(bytes)));
    } catch (err) {
      run = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    run.then(
      (result): void => {
        this.#buffers.give(result.inputs);
        const dim = this.#o.dim;
        if (result.data.length !== batch.length * dim) {
          throw new InferenceFailedError(`the ${this.#labels.encoder} encoder returned ${result.data.length} values for ${batch.length} x ${dim}`);
        }
        this.#o.metrics.inferenceDuration.observe(this.#labels, result.seconds);
        const rate = batch.length / Math.max(result.seconds, 1e-6);
        this.#itemsPerSecond = this.#itemsPerSecond === undefined ? rate : EWMA_ALPHA * rate + (1 - EWMA_ALPHA) * this.#itemsPerSecond;
        batch.forEach((item, row) => {
          const group = item.group;
          group.running--;
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
        for (const group of new Set(batch.map((item) => item.group))) this.#fail(group, err);
      },
    ).finally(() => {
      this.#inflight--;
      this.#o.metrics.inflightBatches.dec(this.#labels);
      // The next batch goes out when the pool says a worker is free (onAvailable), not from here as well.
      this.#checkDrained();
    });
  }

  #checkDrained(): void {
    if (!this.#closing || this.#queue.length > 0 || this.#inflight > 0) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const resolve of this.#drained.splice(0)) resolve();
  }
}
