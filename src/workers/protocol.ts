/**
 * Messages between a WorkerPool (main thread) and one of its worker threads (serveTasks). Errors cross as plain
 * data: classes do not survive structured cloning.
 */

/** A worker's own description of why it could not start, or why one task failed. */
export interface ErrorData {
  message: string;
  /** Structured-cloneable details for the caller (e.g. the execution providers tried). */
  detail?: unknown;
}

export type ToWorker<Task> = { type: 'task'; id: number; task: Task };

export type FromWorker<Info, Result> =
  | { type: 'ready'; info: Info }
  | { type: 'start-failed'; error: ErrorData }
  | { type: 'done'; id: number; result: Result }
  | { type: 'failed'; id: number; error: ErrorData };

/** What a task handler answers: the result and the buffers to transfer (not copy) with it. */
export interface Reply<Result> {
  result: Result;
  transfer?: ArrayBuffer[];
}

export function errorData(err: unknown): ErrorData {
  const message = err instanceof Error ? err.message : String(err);
  const detail = (err as { detail?: unknown } | null)?.detail;
  return detail === undefined ? { message } : { message, detail };
}
