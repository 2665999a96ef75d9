/**
 * How the engine refuses or fails work. These carry no HTTP meaning: src/http/errors/error-handler.ts alone maps
 * them (and src/workers/errors.ts's WorkerFailedError) to statuses and codes.
 */

/** The encoder's queue is at its bound; `retryAfterSeconds` estimates when it will have room. */
export class QueueFullError extends Error {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super(message);
    this.name = 'QueueFullError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The request's deadline passed; `running` tells whether its work had reached a worker by then. */
export class DeadlineExceededError extends Error {
  readonly running: boolean;

  constructor(running: boolean) {
    super('the request deadline passed before inference finished');
    this.name = 'DeadlineExceededError';
    this.running = running;
  }
}

/** The encoder is draining for shutdown and takes no new work. */
export class ShuttingDownError extends Error {
  constructor() {
    super('the service is shutting down');
    this.name = 'ShuttingDownError';
  }
}

/** The session ran but failed, or answered something that is not a batch of embeddings. */
export class InferenceFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InferenceFailedError';
  }
}
