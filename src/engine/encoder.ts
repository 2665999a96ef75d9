import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { BatchingConfig } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import type { Cancellation } from './request-group.ts';
import { l2normalize } from '../vectors.ts';
import { TaskFailedError } from '../workers/errors.ts';
import { WorkerPool } from '../workers/pool.ts';
import { Batcher } from './batcher.ts';
import type { FeedBuilder } from './batcher.ts';
import { InferenceFailedError } from './errors.ts';
import { distinctBuffers } from './protocol.ts';
import type { EncoderLabel, FeedTensor, RunResult, SessionInfo, WorkerSetup } from './protocol.ts';

/** A started encoder's handshake, with the seconds its first worker's model file took to read. */
export type EncoderStart = SessionInfo & { readSeconds: number };

// Tests and `npm run dev` run the sources, `npm start` runs the build: pick the entry that sits next to us.
const INFERENCE_WORKER = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export interface EncoderOptions<P> {
  label: EncoderLabel;
  setup: Omit<WorkerSetup, 'model'>;
  /**
   * The model file's bytes, read afresh for every worker started (replacements included) and moved to it; the
   * worker checks them against setup.modelSha256 before it serves, so the main thread keeps no copy.
   */
  readModel: () => Promise<Uint8Array>;
  workers: number;
  /** A worker holding a batch longer than this is taken as hung and replaced; sooner, from measured batch times. */
  workerTimeoutMs: number;
  batching: BatchingConfig;
  buildFeeds: FeedBuilder<P>;
  /** Embedding size D. */
  dim: number;
  cost?: (payload: P) => number;
  metrics: Metrics;
  logger: Logger;
  /** The worker module (one that serves startInferenceSession); src/engine/worker.ts unless given. */
  workerEntry?: URL;
}

/**
 * One model encoder: its inference workers and the batcher in front of them, as one object (the queue,
 * batching task and backend of text-embeddings-inference's Infer). Payloads in, unit-norm embeddings out.
 */
export class Encoder<P> {
  readonly #o: EncoderOptions<P>;
  readonly #pool: WorkerPool<FeedTensor[], RunResult, SessionInfo>;
  readonly #batcher: Batcher<P>;
  #readSeconds = 0;

  constructor(options: EncoderOptions<P>) {
    this.#o = options;
    const { label } = options;
    this.#pool = new WorkerPool<FeedTensor[], RunResult, SessionInfo>({
      name: `${label.encoder} encoder of ${label.model}`,
      entry: options.workerEntry ?? INFERENCE_WORKER,
      setup: async () => {
        const reading = performance.now();
        const read = await options.readModel();
        this.#readSeconds = (performance.now() - reading) / 1000;
        const whole = read.byteOffset === 0 && read.byteLength === read.buffer.byteLength && read.buffer instanceof ArrayBuffer;
        const model = whole ? read : read.slice();
        return { setup: { ...options.setup, model }, transfer: [model.buffer as ArrayBuffer] };
      },
      size: options.workers,
      taskTimeoutMs: options.workerTimeoutMs,
      measuredHangs: true,
      // The batcher hands a batch only to an idle worker, so nothing ever waits inside the pool.
      maxQueue: 0,
      logger: options.logger,
    });
    const pool = this.#pool;
    // Every series exists from the start at 0, so that an alert on its increase sees the first restart.
    for (const reason of ['crashed', 'timed_out', 'start_failed'] as const) options.metrics.workerRestarts.inc({ ...label, reason }, 0);
    pool.onReplace((reason) => options.metrics.workerRestarts.inc({ ...label, reason }));
    this.#batcher = new Batcher<P>({
      label,
      config: options.batching,
      metrics: options.metrics,
      buildFeeds: options.buildFeeds,
      dim: options.dim,
      ...(options.cost === undefined ? {} : { cost: options.cost }),
      pool: {
        size: pool.size,
        get idle() {
          return pool.idle;
        },
        onAvailable: (listener) => pool.onAvailable(listener),
        run: (feeds, units) =>
          pool.run(feeds, distinctBuffers(feeds), units).catch((err: unknown) => {
            throw err instanceof TaskFailedError ? new InferenceFailedError(`inference failed: ${err.message}`, { cause: err }) : err;
          }),
      },
    });
  }

  /** Starts the workers (read, verify, provider fallback, warm-up); rejects when one cannot start. */
  async start(): Promise<EncoderStart> {
    const info = await this.#pool.start();
    for (const attempt of info.attempts) {
      this.#o.logger.warn(
        { ...this.#o.label, provider: attempt.provider, reason: attempt.error },
        'execution provider unavailable, took the next one',
      );
    }
    return { ...info, readSeconds: this.#readSeconds };
  }

  /** The execution provider of the most recently started worker ('none' before the first). */
  get provider(): string {
    return this.#pool.info?.provider ?? 'none';
  }

  /** Whether a worker is up (idle or busy): false while all are dead or their replacements keep failing. */
  get live(): boolean {
    return this.#pool.live > 0;
  }

  /** Called with the provider of every worker that starts, replacements included. */
  onWorkerReady(listener: (provider: string) => void): void {
    this.#pool.onReady((info) => listener(info.provider));
  }

  async embed(payloads: P[], work: Cancellation = {}): Promise<Float32Array[]> {
    return (await this.#batcher.submit(payloads, work)).map(l2normalize);
  }

  /** Lets queued and running batches finish, then stops the workers. */
  async close(): Promise<void> {
    await this.#batcher.close();
    await this.#pool.close();
  }
}
