/** How a request's work may end early: passed down to the batcher, which drops or fails the work it covers. */
export interface Cancellation {
  /** Aborted when the client disconnects: queued work for it is dropped before it runs. */
  signal?: AbortSignal;
  /** Epoch milliseconds after which the caller gets 504 instead of a late answer. */
  deadline?: number;
}
