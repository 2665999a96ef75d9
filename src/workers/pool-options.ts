import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';

export interface WorkerPoolOptions<Setup> {
  /** For logs and error messages, e.g. "image encoder of unimed-demo". */
  name: string;
  /** The worker's module: one that calls serveTasks (src/workers/serve.ts). */
  entry: URL;
  /** Passed to every worker as workerData. */
  setup: Setup;
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
