/**
 * At most `size` requests to one source at once, from the whole service; the others wait in order. A waiter whose
 * client leaves or whose deadline passes stops waiting (and never takes a slot).
 */
import { CancelledError, deadlineExceeded } from '../errors.ts';
import type { Cancellation } from '../models/types.ts';

interface Waiter {
  grant(): void;
}

export class Slots {
  readonly #size: number;
  #busy = 0;
  readonly #waiting: Waiter[] = [];
  readonly #onWaiting: (count: number) => void;

  /** `onWaiting` is told how many wait whenever that changes (a metric). */
  constructor(size: number, onWaiting: (count: number) => void = () => undefined) {
    this.#size = size;
    this.#onWaiting = onWaiting;
  }

  /** Resolves with a release function once a slot is free. */
  acquire(cancellation: Cancellation): Promise<() => void> {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#busy--;
      const next = this.#waiting.shift();
      if (next !== undefined) {
        this.#onWaiting(this.#waiting.length);
        next.grant();
      }
    };
    if (this.#busy < this.#size) {
      this.#busy++;
      return Promise.resolve(release);
    }
    const { signal, deadline } = cancellation;
    return new Promise((resolve, reject) => {
      const leave = (error: Error): void => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        this.#onWaiting(this.#waiting.length);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = (): void => leave(new CancelledError('the client disconnected while waiting for the DICOMweb source'));
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          this.#busy++;
          resolve(release);
        },
      };
      const timer =
        deadline === undefined
          ? undefined
          : setTimeout(
              () => leave(deadlineExceeded('the request deadline passed while waiting for the DICOMweb source')),
              Math.max(0, deadline - Date.now()),
            );
      this.#waiting.push(waiter);
      this.#onWaiting(this.#waiting.length);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
