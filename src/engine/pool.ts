import type { Logger } from 'pino';
import { InferenceWorker } from './inference-worker.ts';
import type { RunResult, StartInfo } from './inference-worker.ts';
import type { FeedTensor, WorkerSetup } from './protocol.ts';

export interface PoolOptions {
  /** For logs: which model and encoder these workers serve. */
  label: { model: string; encoder: string };
  size: number;
  setup: WorkerSetup;
  timeoutMs: number;
  logger: Logger;
  /** Called whenever a worker becomes ready (first start or replacement) with the provider it uses. */
  onProvider?: (provider: string) => void;
}

const MAX_RESTART_DELAY_MS = 30_000;

/**
 * The supervisor of one encoder's workers: starts them, hands an idle one to the batcher, and replaces any
 * that dies (crash or hang). At most one batch runs on a worker at a time.
 */
export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #workers: InferenceWorker[] = [];
  readonly #availableListeners: (() => void)[] = [];
  #closed = false;
  /** During the first start a failure fails the load instead of being replaced. */
  #starting = true;
  #restartDelayMs = 250;
  #provider = 'none';

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  /** Starts every worker; rejects (after stopping the others) when one cannot create its session. */
  async start(): Promise<StartInfo> {
    const workers = Array.from({ length: this.#options.size }, () => this.#spawn());
    try {
      const infos = await Promise.all(workers.map((w) => w.start()));
      const info = infos[0]!;
      for (const attempt of info.attempts) {
        this.#options.logger.warn({ ...this.#options.label, provider: attempt.provider, reason: attempt.error }, 'execution provider unavailable, trying the next one');
      }
      this.#provider = info.provider;
      this.#options.onProvider?.(info.provider);
      this.#starting = false;
      return info;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  get provider(): string {
    return this.#provider;
  }

  get size(): number {
    return this.#options.size;
  }

  /** Live worker threads, for tests that need to kill one for real. */
  get workers(): InferenceWorker[] {
    return this.#workers.filter((w) => !w.dead);
  }

  /** Called when a worker may have become free (batch done or replacement ready). */
  onAvailable(listener: () => void): void {
    this.#availableListeners.push(listener);
  }

  idleWorker(): InferenceWorker | undefined {
    return this.#workers.find((w) => w.ready && !w.busy);
  }

  /** Runs a batch on an idle worker, which must exist (check idleWorker() first). */
  async run(worker: InferenceWorker, feeds: FeedTensor[]): Promise<RunResult> {
    try {
      return await worker.run(feeds);
    } finally {
      this.#notifyAvailable();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.splice(0).map((w) => w.worker.terminate()));
  }

  #notifyAvailable(): void {
    for (const listener of this.#availableListeners) queueMicrotask(listener);
  }

  #spawn(): InferenceWorker {
    const worker = new InferenceWorker(this.#options.setup, this.#options.timeoutMs);
    this.#workers.push(worker);
    worker.onDeath((reason) => this.#replace(worker, reason));
    return worker;
  }

  #replace(dead: InferenceWorker, reason: string): void {
    const index = this.#workers.indexOf(dead);
    if (index >= 0) this.#workers.splice(index, 1);
    if (this.#closed || this.#starting) return;
    // A worker that died in service is replaced at once; one that could not even start is retried with a
    // growing delay, so that a broken machine is not hammered.
    const delay = dead.wasReady ? 0 : this.#restartDelayMs;
    if (!dead.wasReady) this.#restartDelayMs = Math.min(MAX_RESTART_DELAY_MS, this.#restartDelayMs * 2);
    this.#options.logger.error({ ...this.#options.label, reason, restartInMs: delay }, 'inference worker died; starting a replacement');
    const timer = setTimeout(() => {
      if (this.#closed) return;
      this.#spawn().start().then(
        (info) => {
          this.#restartDelayMs = 250;
          this.#provider = info.provider;
          this.#options.onProvider?.(info.provider);
          this.#options.logger.info({ ...this.#options.label, provider: info.provider }, 'replacement inference worker ready');
          this.#notifyAvailable();
        },
        (err: unknown) => {
          this.#options.logger.error({ ...this.#options.label, reason: err instanceof Error ? err.message : String(err) }, 'replacement inference worker failed to start');
        },
      );
    }, delay);
    timer.unref();
  }
}

