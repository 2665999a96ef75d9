/**
 * The process-wide budget of bytes that image decodes may hold at once (docs/configuration.md "Limits"). Every decode reserves
 * its worst case, computed from the header, before it allocates anything, and gives it back when it ends, so
 * many large images sent together queue here instead of being decoded at once.
 *
 * Two lines, each first come first served. Small reservations (at most 1/16 of the budget: every ordinary
 * image) never wait behind large ones, and large ones together hold at most 3/4 of the budget (one alone may
 * take more), so a stream of huge images can make only other huge images wait for memory, never the small ones.
 */
import type { Cancellation } from '../engine/request-group.ts';
import { DeadlineExceededError } from '../engine/errors.ts';
import { CancelledError, unavailable } from '../errors.ts';
import { imageTooLarge } from './limits.ts';

/** Bytes held from the budget; `release` gives them back (once, however often it is called). */
export interface Reservation {
  readonly bytes: number;
  release(): void;
}

export interface MemoryBudgetOptions {
  limitBytes: number;
  /** How long a reservation may wait for room; past it 503 memory_busy. */
  maxWaitMs: number;
  /** Told the bytes reserved and the limit whenever either changes (the metrics' gauges). */
  onChange?: (reservedBytes: number, limitBytes: number) => void;
}

interface Waiter {
  bytes: number;
  grant: () => void;
}

/** A reservation up to this share of the budget is small: it never waits behind a large one. */
export const SMALL_SHARE = 1 / 16;
/** Large reservations together hold at most this share of the budget, leaving the rest to small ones. */
export const LARGE_SHARE = 3 / 4;

export class MemoryBudget {
  readonly #maxWaitMs: number;
  readonly #onChange: (reservedBytes: number, limitBytes: number) => void;
  readonly #small: Waiter[] = [];
  readonly #large: Waiter[] = [];
  #limit: number;
  #reserved = 0;
  #reservedLarge = 0;

  constructor(options: MemoryBudgetOptions) {
    this.#limit = options.limitBytes;
    this.#maxWaitMs = options.maxWaitMs;
    this.#onChange = options.onChange ?? (() => undefined);
    this.#onChange(0, this.#limit);
  }

  get limitBytes(): number {
    return this.#limit;
  }

  get reservedBytes(): number {
    return this.#reserved;
  }

  /** Reservations waiting for room. */
  get waiting(): number {
    return this.#small.length + this.#large.length;
  }

  /** Resizes the budget (the automatic default is known only once the models are loaded); waiters that now fit go ahead. */
  setLimit(bytes: number): void {
    this.#limit = bytes;
    this.#onChange(this.#reserved, this.#limit);
    this.#grant();
  }

  /**
   * Resolves once `bytes` are reserved, in arrival order within its line (small or large): a reservation at the
   * head of its line is not overtaken by one behind it, so it cannot starve there. Rejects with 413
   * image_too_large when `bytes` exceed the whole budget, 503 memory_busy after MEMORY_WAIT_MS,
   * DeadlineExceededError at the request's deadline and CancelledError when the client leaves; a rejected
   * reservation holds nothing.
   */
  reserve(bytes: number, cancellation: Cancellation = {}): Promise<Reservation> {
    if (bytes > this.#limit) {
      return Promise.reject(
        imageTooLarge(`decoding this image needs up to ${bytes} bytes, more than the whole MEMORY_BUDGET_BYTES (${this.#limit})`),
      );
    }
    const { signal, deadline } = cancellation;
    if (signal?.aborted === true) return Promise.reject(new CancelledError('the client disconnected before the image was decoded'));
    const untilDeadline = deadline === undefined ? Infinity : deadline - Date.now();
    if (untilDeadline <= 0) return Promise.reject(new DeadlineExceededError(false));
    const line = this.#isLarge(bytes) ? this.#large : this.#small;
    if (line.length === 0 && this.#fits(bytes)) return Promise.resolve(this.#take(bytes));
    return new Promise<Reservation>((resolve, reject) => {
      const byDeadline = untilDeadline < this.#maxWaitMs;
      const timer = setTimeout(
        () => {
          leave();
          reject(
            byDeadline
              ? new DeadlineExceededError(false)
              : unavailable(
                  `decoding memory is in use by other requests and did not free up within ${this.#maxWaitMs} ms (MEMORY_WAIT_MS); retry`,
                  'memory_busy',
                  1,
                ),
          );
        },
        Math.min(untilDeadline, this.#maxWaitMs),
      );
      const onAbort = () => {
        leave();
        reject(new CancelledError('the client disconnected before the image was decoded'));
      };
      const waiter: Waiter = {
        bytes,
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(this.#take(bytes));
        },
      };
      const leave = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const at = line.indexOf(waiter);
        if (at >= 0) line.splice(at, 1);
        // The one leaving may have been the head that blocked smaller reservations behind it.
        if (at === 0) this.#grant();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      line.push(waiter);
    });
  }

  #isLarge(bytes: number): boolean {
    return bytes > this.#limit * SMALL_SHARE;
  }

  #fits(bytes: number): boolean {
    if (this.#reserved + bytes > this.#limit) return false;
    // One large reservation alone may take more than the large share: MAX_IMAGE_BYTES may allow it.
    return !this.#isLarge(bytes) || this.#reservedLarge === 0 || this.#reservedLarge + bytes <= this.#limit * LARGE_SHARE;
  }

  #take(bytes: number): Reservation {
    // Whether it counts as large is fixed when taken: the limit may change while it is held.
    const large = this.#isLarge(bytes) ? bytes : 0;
    this.#reserved += bytes;
    this.#reservedLarge += large;
    this.#onChange(this.#reserved, this.#limit);
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        this.#reserved -= bytes;
        this.#reservedLarge -= large;
        this.#onChange(this.#reserved, this.#limit);
        this.#grant();
      },
    };
  }

  #grant(): void {
    for (const line of [this.#small, this.#large]) {
      for (let head = line[0]; head !== undefined && this.#fits(head.bytes); head = line[0]) {
        line.shift();
        head.grant();
      }
    }
  }
}
