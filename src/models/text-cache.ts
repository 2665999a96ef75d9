/**
 * LRU of text embeddings bounded in bytes, shared by every model (keys start with the model sha256, so two
 * models never see each other's vectors). A Map keeps insertion order: a hit re-inserts its entry, so the
 * first key is always the least recently used.
 */
export class TextEmbeddingCache {
  readonly maxBytes: number;
  #bytes = 0;
  readonly #entries = new Map<string, { value: Float32Array; bytes: number }>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  static key(modelSha256: string, cleanedText: string): string {
    return `${modelSha256}\u0000${cleanedText}`;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Float32Array | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: Float32Array): void {
    // UTF-16 key, the vector, and a rough allowance for the Map entry and object headers.
    const bytes = key.length * 2 + value.byteLength + 96;
    if (bytes > this.maxBytes) return;
    const old = this.#entries.get(key);
    if (old !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= old.bytes;
    }
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
  }
}
