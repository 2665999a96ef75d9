/**
 * What a WorkerPool can fail with. These carry no HTTP meaning: callers decide what a failure means for their
 * input (a decoder that died on an image is that image's fault; an inference worker that died is not), and
 * src/http/errors/error-handler.ts maps what reaches it.
 */

/** The worker running the task died (crash) or held it past the pool's task timeout; it is being replaced. */
export class WorkerFailedError extends Error {
  readonly reason: 'crashed' | 'timed_out';

  constructor(reason: 'crashed' | 'timed_out', message: string) {
    super(message);
    this.name = 'WorkerFailedError';
    this.reason = reason;
  }
}

/** The task's handler threw inside the worker; the worker itself is fine. */
export class TaskFailedError extends Error {
  readonly detail: unknown;

  constructor(message: string, detail?: unknown) {
    super(message);
    this.name = 'TaskFailedError';
    this.detail = detail;
  }
}

/** The pool's queue of waiting tasks is at its bound. */
export class PoolQueueFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolQueueFullError';
  }
}

/** The pool was closed before the task ran or finished. */
export class PoolClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoolClosedError';
  }
}

/** A worker could not start (its session or codecs failed to load); `detail` is what the worker reported. */
export class WorkerStartError extends Error {
  readonly detail: unknown;

  constructor(message: string, detail?: unknown) {
    super(message);
    this.name = 'WorkerStartError';
    this.detail = detail;
  }
}
