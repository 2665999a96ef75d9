import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { LRUCache } from 'lru-cache';
import { CancelledError, tooLarge } from '../errors.ts';
import { DeadlineExceededError } from '../engine/errors.ts';
import type { Encoder } from '../engine/encoder.ts';
import type { Metrics } from '../metrics.ts';
import { cleanText } from './clean.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { TextWork, CountedEmbeddings } from './types.ts';

/**
 * Text embeddings of every model and every partition, bounded in bytes (TEXT_CACHE_BYTES, one LRU across all).
 * Keys start with the model sha256, so two models never see each other's vectors; then the partition (an API key
 * id: docs/security.md "Text-embedding cache"), so that one tenant cannot learn from a hit's speed or the hit
 * counters that another recently sent a text; the cleaned text is the rest of the key.
 */
export type TextEmbeddingCache = LRUCache<string, Float32Array>;

/**
 * The cache (and in-flight) key. The character after the sha256 (hex) tells the shared partition (NUL) from a
 * named one (SOH, then the id, which holds no NUL, then NUL), so no text can make one partition's key another's.
 */
export function textCacheKey(modelSha256: string, cleanedText: string, partition?: string): string {
  return partition === undefined ? `${modelSha256}\u0000${cleanedText}` : `${modelSha256}\u0001${partition}\u0000${cleanedText}`;
}

export function createTextCache(maxBytes: number): TextEmbeddingCache | undefined {
  if (maxBytes === 0) return undefined;
  // The UTF-16 key, the vector, and a rough allowance for the entry's bookkeeping.
  return new LRUCache<string, Float32Array>({ maxSize: maxBytes, sizeCalculation: (value, key) => key.length * 2 + value.byteLength + 96 });
}

/** Cleaning and tokenizing run on the HTTP thread in slices of about this long, so other requests are not held up. */
const SLICE_MS = 4;

/**
 * A model's texts to embeddings: clean and tokenize (charging the request's token budget), look up the cache,
 * embed the misses as one group. A text
 * another request of the same cache partition is already computing is awaited rather than computed twice. The in-flight sharing is kept
 * here rather than in lru-cache's fetch(), which computes each key on its own: a request's misses must reach
 * the batcher as one group, succeeding or failing together.
 */
export class TextEmbedder {
  readonly #model: { id: string; sha256: string };
  readonly #tokenizer: TextTokenizer;
  readonly #encoder: Encoder<number[]>;
  readonly #cache: TextEmbeddingCache | undefined;
  readonly #metrics: Metrics;
  readonly #inflight = new Map<string, Promise<Float32Array>>();

  constructor(model: { id: string; sha256: string }, tokenizer: TextTokenizer, encoder: Encoder<number[]>, cache: TextEmbeddingCache | undefined, metrics: Metrics) {
    this.#model = model;
    this.#tokenizer = tokenizer;
    this.#encoder = encoder;
    this.#cache = cache;
    this.#metrics = metrics;
  }

  /**
   * Unit-norm embeddings of raw texts, in input order. The distinct texts may come to `maxTokens` tokens at
   * most ([CLS] and [SEP] included, after truncation), cached or not, so that the answer does not depend on
   * the cache: past it 413 `too_many_tokens`, found before any text is embedded.
   */
  async embed(texts: string[], work: TextWork = {}, maxTokens = Number.POSITIVE_INFINITY): Promise<Float32Array[]> {
    return (await this.embedCounted(texts, work, maxTokens)).embeddings;
  }

  /** embed, and the tokens of every text (repeats counted again), as an API's usage reports them. */
  async embedCounted(texts: string[], work: TextWork = {}, maxTokens = Number.POSITIVE_INFINITY): Promise<CountedEmbeddings> {
    const cleaned: string[] = [];
    const ids = new Map<string, number[]>();
    let tokens = 0;
    let sliceStart = performance.now();
    for (const text of texts) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await yieldToEventLoop();
        if (work.signal?.aborted === true) throw new CancelledError();
        sliceStart = performance.now();
      }
      const one = cleanText(text);
      cleaned.push(one);
      if (ids.has(one)) continue;
      const tokenized = this.#tokenizer.encodeCleaned(one);
      ids.set(one, tokenized);
      tokens += tokenized.length;
      if (tokens > maxTokens) throw tooLarge(`the texts come to more than ${maxTokens} tokens, which MAX_TOKENS_PER_REQUEST allows`, 'too_many_tokens');
    }
    const embeddings = await this.#embedCleaned(cleaned, ids, work);
    return { embeddings, tokens: cleaned.reduce((sum, one) => sum + (ids.get(one)?.length ?? 0), 0) };
  }

  async #embedCleaned(cleaned: string[], ids: ReadonlyMap<string, number[]>, work: TextWork): Promise<Float32Array[]> {
    const out = new Array<Float32Array>(cleaned.length);
    const waits: Promise<void>[] = [];
    const misses = new Map<string, { text: string; indices: number[] }>();
    let hits = 0;
    cleaned.forEach((text, i) => {
      const key = textCacheKey(this.#model.sha256, text, work.cachePartition);
      const cached = this.#cache?.get(key);
      const pending = misses.get(key);
      const shared = this.#inflight.get(key);
      if (cached !== undefined) out[i] = cached;
      else if (pending !== undefined) pending.indices.push(i);
      else if (shared !== undefined) waits.push(this.#awaitShared(shared, text, work).then((v) => void (out[i] = v)));
      else return void misses.set(key, { text, indices: [i] });
      hits++;
    });
    if (hits > 0) this.#metrics.textCacheHits.inc({ model: this.#model.id }, hits);
    if (misses.size > 0) {
      this.#metrics.textCacheMisses.inc({ model: this.#model.id }, misses.size);
      const entries = [...misses.entries()];
      const computation = this.#encoder.embed(entries.map(([, m]) => ids.get(m.text) ?? this.#tokenizer.encodeCleaned(m.text)), work);
      entries.forEach(([key, miss], j) => {
        const one = computation.then((rows) => rows[j]!);
        this.#inflight.set(key, one);
        one.then((vector) => this.#cache?.set(key, vector), () => undefined).finally(() => {
          if (this.#inflight.get(key) === one) this.#inflight.delete(key);
        });
        waits.push(one.then((vector) => {
          for (const i of miss.indices) out[i] = vector;
        }));
      });
    }
    await Promise.all(waits);
    return out;
  }

  /** Another request's computation failed for that request's own reasons (it left, its deadline passed): compute ours. */
  async #awaitShared(shared: Promise<Float32Array>, text: string, work: TextWork): Promise<Float32Array> {
    try {
      return await shared;
    } catch (err) {
      const theirs = err instanceof CancelledError || err instanceof DeadlineExceededError;
      if (!theirs || work.signal?.aborted === true) throw err;
      const [vector] = await this.#embedCleaned([text], new Map(), work);
      return vector!;
    }
  }
}
