/** Entries kept before expired ones are swept, so a flood from many addresses cannot grow the map for long. */
const SWEEP_AT = 10_000;

/**
 * Failed authentications counted per client address in fixed windows: past `limit` in one window the address is
 * refused until the window ends. In memory, per pod.
 */
export class AuthFailures {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #byAddress = new Map<string, { count: number; endsAt: number }>();

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Seconds until `address` may try again, or 0 when it may now. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const entry = this.#byAddress.get(address);
    if (entry === undefined || entry.endsAt <= now || entry.count < this.#limit) return 0;
    return Math.max(1, Math.ceil((entry.endsAt - now) / 1000));
  }

  record(address: string, now = Date.now()): void {
    if (this.#byAddress.size >= SWEEP_AT) {
      for (const [key, entry] of this.#byAddress) if (entry.endsAt <= now) this.#byAddress.delete(key);
    }
    const entry = this.#byAddress.get(address);
    if (entry === undefined || entry.endsAt <= now) this.#byAddress.set(address, { count: 1, endsAt: now + this.#windowMs });
    else entry.count++;
  }
}
