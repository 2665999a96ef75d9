import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';

/** One worker's workerData and the buffers that move (not copy) to it. */
export interface WorkerInput<Setup> {
  setup: Setup;
  transfer: ArrayBuffer[];
}

export interface WorkerPoolOptions<Setup> {
  /** For logs and error messages, e.g. "image encoder of unimed-demo". */
  name: string;
  /** The worker's module: one that calls serveTasks (src/workers/serve.ts). */
  entry: URL;
  /**
   * Passed to every worker as workerData. A function is called once for each worker started, replacements
   * included (e.g. to read a model file afresh), and the buffers it lists in `transfer` move to that worker.
   */
  setup: Setup | (() => Promise<WorkerInput<Setup>>);
  size: number;
  /**
   * A task held longer than this after a worker took it counts as a hang: the worker is replaced. 0: never.
   * With `measuredHangs`, the ceiling (and the value before any task has been timed).
   */
  taskTimeoutMs: number;
  /** Judge hangs from measured task times (src/workers/hang-detector.ts) instead of taskTimeoutMs alone. */
  measuredHangs?: boolean;
  /** Tasks waiting for a worker at most; past it run() rejects with PoolQueueFullError. */
  maxQueue: number;
  resourceLimits?: ResourceLimits;
  logger: Logger;
}

/** The input of the next worker to start: the setup function's answer, or the setup itself. */
export async function workerInput<Setup>(options: WorkerPoolOptions<Setup>): Promise<WorkerInput<Setup>> {
  const setup = options.setup;
  return typeof setup === 'function' ? await (setup as () => Promise<WorkerInput<Setup>>)() : { setup, transfer: [] };
}
