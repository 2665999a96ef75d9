import { CancelledError } from '../errors.ts';
import type { Cancellation } from './cancellation.ts';
import { DeadlineExceededError } from './errors.ts';

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
