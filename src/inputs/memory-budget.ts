/**
 * The process-wide budget of bytes that image decodes may hold at once (README "Limits"). Every decode reserves
 * its worst case, computed from the header, before it allocates anything, and gives it back when it ends, so
 * many large images sent together queue here instead of being decoded at once.
 */
import type { Cancellation } from '../engine/cancellation.ts';
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

export class MemoryBudget {
  readonly #maxWaitMs: number;
  readonly #onChange: (reservedBytes: number, limitBytes: number) => void;
  readonly #queue: Waiter[] = [];
  #limit: number;
  #reserved = 0;

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
    return this.#queue.length;
  }

  /** Resizes the budget (the automatic default is known only once the models are loaded); waiters that now fit go ahead. */
  setLimit(bytes: number): void {
    this.#limit = bytes;
    this.#onChange(this.#reserved, this.#limit);
    this.#grant();
  }

  /**
   * Resolves once `bytes` are reserved, in arrival order: a large reservation at the head is not overtaken by
   * smaller ones behind it, so it cannot starve. Rejects with 413 image_too_large when `bytes` exceed the whole
   * budget, 503 memory_busy after MEMORY_WAIT_MS, DeadlineExceededError at the request's deadline and
   * CancelledError when the client leaves; a rejected reservation holds nothing.
   */
  reserve(bytes: number, cancellation: Cancellation = {}): Promise<Reservation> {
    if (bytes > this.#limit) {
      return Promise.reject(imageTooLarge(`decoding this image needs up to ${bytes} bytes, more than the whole MEMORY_BUDGET_BYTES (${this.#limit})`));
    }
    const { signal, deadline } = cancellation;
    if (signal?.aborted === true) return Promise.reject(new CancelledError('the client disconnected before the image was decoded'));
    const untilDeadline = deadline === undefined ? Infinity : deadline - Date.now();
    if (untilDeadline <= 0) return Promise.reject(new DeadlineExceededError(false));
    if (this.#queue.length === 0 && this.#fits(bytes)) return Promise.resolve(this.#take(bytes));
    return new Promise<Reservation>((resolve, reject) => {
      const byDeadline = untilDeadline < this.#maxWaitMs;
      const timer = setTimeout(() => {
        leave();
        reject(
          byDeadline
            ? new DeadlineExceededError(false)
            : unavailable(`decoding memory is in use by other requests and did not free up within ${this.#maxWaitMs} ms (MEMORY_WAIT_MS); retry`, 'memory_busy', 1),
        );
      }, Math.min(untilDeadline, this.#maxWaitMs));
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
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        // The one leaving may have been the head that blocked smaller reservations behind it.
        if (at === 0) this.#grant();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #fits(bytes: number): boolean {
    return this.#reserved + bytes <= this.#limit;
  }

  #take(bytes: number): Reservation {
    this.#reserved += bytes;
    this.#onChange(this.#reserved, this.#limit);
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        this.#reserved -= bytes;
        this.#onChange(this.#reserved, this.#limit);
        this.#grant();
      },
    };
  }

  #grant(): void {
    for (let head = this.#queue[0]; head !== undefined && this.#fits(head.bytes); head = this.#queue[0]) {
      this.#queue.shift();
      head.grant();
    }
  }
}
