import { CancelledError } from '../errors.ts';
import { DeadlineExceededError } from './errors.ts';

/**
 * How a caller's work is treated in the engine: passed down to the batcher, which drops, fails or shares it. The
 * engine's view of a use case's context (service/context.ts), which has more.
 */
export interface Cancellation {
  /** Aborted when the client disconnects: queued work for it is dropped before it runs. */
  readonly signal?: AbortSignal;
  /** Epoch milliseconds after which the caller gets 504 instead of a late answer. */
  readonly deadline?: number;
  /**
   * Whose work this is (an opaque key given by the caller: a request, or an API key): batches are shared fairly
   * between owners (engine/batch-selection.ts). Without one, each submission is its own owner.
   */
  readonly owner?: string;
  /** Told, once per batch that ran some of this work, when it was queued, sent to a worker and done (epoch ms). */
  readonly onBatch?: (timing: BatchTiming) => void;
}

/** Where one submission's time went in one batch (the caller's trace spans; the metrics observe the same moments). */
export interface BatchTiming {
  /** When the submission's earliest item in this batch was queued. */
  readonly queuedAt: number;
  /** When the batch went to a worker: the end of the queue wait. */
  readonly startedAt: number;
  /** When the worker's output came back. */
  readonly endedAt: number;
}

/** All the items of one submit() call: they succeed or fail together. */
export interface Group {
  results: Float32Array[];
  remaining: number;
  /** Items of the group in a batch a worker is running. */
  running: number;
  settled: boolean;
  resolve: (rows: Float32Array[]) => void;
  reject: (err: Error) => void;
  cleanup: () => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A group of `size` items settled through `resolve`/`reject`, wired to its request's cancellation: `fail` is
 * called with the error to settle it with when the client leaves or the deadline passes, whichever comes first.
 */
export function openGroup(
  size: number,
  cancellation: Cancellation,
  settle: { resolve: (rows: Float32Array[]) => void; reject: (err: Error) => void },
  fail: (group: Group, err: Error) => void,
): Group {
  const { signal, deadline } = cancellation;
  let deadlineTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void =>
    fail(group, group.running > 0 ? new CancelledError('the client disconnected while its work ran', true) : new CancelledError());
  const group: Group = {
    results: new Array<Float32Array>(size),
    remaining: size,
    running: 0,
    settled: false,
    resolve: settle.resolve,
    reject: settle.reject,
    cleanup: () => {
      clearTimeout(deadlineTimer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  // setTimeout fires at once past 2^31-1 ms: a deadline that far away is no deadline at all.
  if (deadline !== undefined && deadline - Date.now() <= MAX_TIMER_MS) {
    deadlineTimer = setTimeout(() => fail(group, new DeadlineExceededError(group.running > 0)), deadline - Date.now());
  }
  return group;
}
