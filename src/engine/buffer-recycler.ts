/**
 * Input tensor buffers that travel to an inference worker and come back with its answer, to be filled again.
 *
 * Without it every batch allocated a fresh buffer on the HTTP thread (up to 16 x 3 x 224 x 224 floats, 9.6 MB)
 * that became garbage in the worker's isolate, which collects rarely because it allocates little JavaScript
 * itself: megabytes of dead batches stayed in glibc's main arena, whose high-water mark then set the process's
 * RSS. A handful of buffers, reused, keeps that memory constant (bench/TUNING.md, "Memory").
 */
export class BufferRecycler {
  readonly #maxKept: number;
  /** Free buffers, smallest first. */
  #free: ArrayBuffer[] = [];
  /** Every buffer is allocated at the largest size asked for so far, so the set converges on one size. */
  #largest = 0;

  /** `maxKept`: how many free buffers to hold on to (the rest are left to the garbage collector). */
  constructor(maxKept: number) {
    this.#maxKept = maxKept;
  }

  /** A buffer of at least `bytes` bytes, with arbitrary contents: the caller must write every byte it uses. */
  take(bytes: number): ArrayBuffer {
    const index = this.#free.findIndex((buffer) => buffer.byteLength >= bytes);
    if (index >= 0) return this.#free.splice(index, 1)[0]!;
    this.#largest = Math.max(this.#largest, bytes);
    return new ArrayBuffer(this.#largest);
  }

  /** Takes buffers back once no one uses them; detached ones (length 0) and ones too many are dropped. */
  give(buffers: Iterable<ArrayBuffer>): void {
    for (const buffer of buffers) if (buffer.byteLength > 0) this.#free.push(buffer);
    this.#free.sort((a, b) => a.byteLength - b.byteLength);
    // Too many: drop the smallest, which are the least useful.
    if (this.#free.length > this.#maxKept) this.#free.splice(0, this.#free.length - this.#maxKept);
  }

  /** Free buffers held (for tests). */
  get kept(): number {
    return this.#free.length;
  }
}
