/** How a request's work is treated in the engine: passed down to the batcher, which drops, fails or shares it. */
export interface Cancellation {
  /** Aborted when the client disconnects: queued work for it is dropped before it runs. */
  signal?: AbortSignal;
  /** Epoch milliseconds after which the caller gets 504 instead of a late answer. */
  deadline?: number;
  /**
   * Whose work this is (an opaque key given by the caller: a request, or an API key): batches are shared fairly
   * between owners (engine/batch-selection.ts). Without one, each submission is its own owner.
   */
  owner?: string;
  /** The caller's W3C trace context headers (traceparent, tracestate), sent on outgoing requests made for this work. */
  traceHeaders?: Readonly<Record<string, string>>;
  /** Told, once per batch that ran some of this work, when it was queued, sent to a worker and done (epoch ms). */
  onBatch?: (timing: BatchTiming) => void;
}

/** Where one submission's time went in one batch (the caller's trace spans; the metrics observe the same moments). */
export interface BatchTiming {
  /** When the submission's earliest item in this batch was queued. */
  queuedAt: number;
  /** When the batch went to a worker: the end of the queue wait. */
  startedAt: number;
  /** When the worker's output came back. */
  endedAt: number;
}
