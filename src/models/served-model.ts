import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config, EncoderKind } from '../config.ts';
import { badRequest } from '../errors.ts';
import { CancelledError, ServiceError } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { Batcher } from '../engine/batcher.ts';
import { imageFeeds, textFeeds } from '../engine/feeds.ts';
import { WorkerPool } from '../engine/pool.ts';
import type { FeedTensor } from '../engine/protocol.ts';
import { classify, ensemble, fillTemplate, l2normalize } from '../zeroshot/scoring.ts';
import { mergePromptSets, promptSetVersion, readPromptSetFile } from '../zeroshot/prompt-sets.ts';
import type { PromptSetDefinition } from '../zeroshot/prompt-sets.ts';
import { cleanText } from './clean.ts';
import { checkGolden } from './golden.ts';
import { modelSha256, verifyFiles } from './integrity.ts';
import { readManifest } from './manifest.ts';
import type { Manifest } from './manifest.ts';
import { TextEmbeddingCache } from './text-cache.ts';
import { TextTokenizer } from './tokenizer.ts';
import type { ImageTensorSpec, LabelSpec, ModelInfo, Prediction, PromptSetInfo, RequestOptions, ServedModel } from './types.ts';

export interface ModelDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  cache: TextEmbeddingCache;
  /** Prompt sets of the PROMPT_SETS file, for every model. */
  servicePromptSets: PromptSetDefinition[];
  isDefault: boolean;
}

interface LoadedPromptSet {
  info: PromptSetInfo;
  labels: LabelSpec[];
  classEmbeddings: Float32Array[];
}

/** Test hooks that reach the real machinery (documented in the engine report; never used by routes). */
export interface EngineDebug {
  workers(encoder: EncoderKind): Worker[];
  /** Blocks every worker of the encoder for `ms`, so that the next batch is held by a busy worker. */
  stall(encoder: EncoderKind, ms: number): void;
  /** Items that ever reached a worker of the encoder (not counting load-time checks and warm-up). */
  itemsRun(encoder: EncoderKind): number;
  queueLength(encoder: EncoderKind): number;
  inflight(encoder: EncoderKind): number;
  retryAfterSeconds(encoder: EncoderKind): number;
  /** Calls `listener` with the cost (token count for texts, 1 for images) of each item of every batch dispatched. */
  onBatch(encoder: EncoderKind, listener: (costs: number[]) => void): () => void;
  /** Input buffers that came back from the workers and wait to be reused (src/engine/buffer-recycler.ts). */
  buffersKept(encoder: EncoderKind): number;
}

/** A model that is verified, warmed and serving: the engine behind one ServedModel. */
export class LoadedModel implements ServedModel {
  readonly id: string;
  readonly sha256: string;
  readonly embedDim: number;
  readonly logitScale: number;
  readonly imageSpec: ImageTensorSpec;
  readonly manifest: Manifest;
  readonly dir: string;
  readonly #deps: ModelDeps;
  readonly #tokenizer: TextTokenizer;
  readonly #pools: Record<EncoderKind, WorkerPool>;
  readonly #image: Batcher<Float32Array>;
  readonly #text: Batcher<number[]>;
  readonly #inflightTexts = new Map<string, Promise<Float32Array>>();
  readonly #promptSets = new Map<string, LoadedPromptSet>();
  #itemsAtReady = { image: 0, text: 0 };
  /** The provider label of the unimed_model_info series currently set; undefined until ready. */
  #publishedProvider: string | undefined;

  private constructor(dir: string, manifest: Manifest, sha256: string, tokenizer: TextTokenizer, deps: ModelDeps) {
    this.dir = dir;
    this.manifest = manifest;
    this.id = manifest.id;
    this.sha256 = sha256;
    this.embedDim = manifest.embed_dim;
    this.logitScale = manifest.logit_scale;
    this.imageSpec = { size: manifest.image.size, mean: manifest.image.mean, std: manifest.image.std };
    this.#deps = deps;
    this.#tokenizer = tokenizer;
    const { config, logger, metrics } = deps;
    const text = manifest.text;
    const textSpec = { inputIds: text.input_ids, attentionMask: text.attention_mask, padId: text.pad_id, contextLength: text.context_length };
    const imageSpec = { input: manifest.image.input, size: manifest.image.size };
    const pool = (encoder: EncoderKind, file: string, outputName: string, warmup: FeedTensor[]): WorkerPool =>
      new WorkerPool({
        label: { model: this.id, encoder },
        size: config.workersPerEncoder,
        timeoutMs: config.workerTimeoutMs,
        logger,
        setup: { modelPath: join(dir, file), encoder, providers: config.executionProviders, intraOpThreads: config.intraOpThreads, spinning: config.ortSpinning, outputName, warmup },
        onProvider: () => {
          if (this.#publishedProvider !== undefined) this.#publishInfo();
        },
      });
    this.#pools = {
      image: pool('image', manifest.image.file, manifest.image.output, imageFeeds(imageSpec, [new Float32Array(3 * imageSpec.size * imageSpec.size)])),
      text: pool('text', text.file, text.output, textFeeds(textSpec, [[text.cls_id, text.sep_id]])),
    };
    this.#image = new Batcher<Float32Array>({
      model: this.id, encoder: 'image', config: config.batching.image, pool: this.#pools.image, metrics, dim: this.embedDim,
      buildFeeds: (images, allocate) => imageFeeds(imageSpec, images, allocate),
    });
    this.#text = new Batcher<number[]>({
      model: this.id, encoder: 'text', config: config.batching.text, pool: this.#pools.text, metrics, dim: this.embedDim,
      buildFeeds: (ids, allocate) => textFeeds(textSpec, ids, allocate),
      cost: (ids) => ids.length,
    });
  }

  /**
   * Verifies (manifest, sha256 of every file), starts the workers (provider fallback, warm-up), checks
   * golden.json and embeds every prompt set. Rejects with an Error naming the model and the failed check.
   */
  static async load(dir: string, deps: ModelDeps): Promise<LoadedModel> {
    let model: LoadedModel | undefined;
    try {
      const manifest = await readManifest(dir);
      await verifyFiles(dir, manifest.files);
      const t = manifest.text;
      const tokenizer = await TextTokenizer.load(dir, t.tokenizer, { contextLength: t.context_length, padId: t.pad_id, clsId: t.cls_id, sepId: t.sep_id });
      model = new LoadedModel(dir, manifest, modelSha256(manifest.files), tokenizer, deps);
      await model.#start();
      return model;
    } catch (err) {
      await model?.close();
      const message = err instanceof Error ? err.message : String(err);
      throw new Error(`model ${model?.id ?? dir} (${dir}) cannot be served: ${message}`, { cause: err });
    }
  }

  async #start(): Promise<void> {
    const [image, text] = await Promise.all([this.#pools.image.start(), this.#pools.text.start()]);
    this.#deps.logger.info({ model: this.id, providers: { image: image.provider, text: text.provider } }, 'inference workers ready');
    await checkGolden(this.dir, this.manifest, {
      tokenizer: this.#tokenizer,
      imageSpec: this.imageSpec,
      imagePixels: this.#deps.config.limits.imagePixels,
      embedTokenized: (ids) => this.#embedTokenized(ids, {}, true),
      embedImages: (pixels) => this.embedImages(pixels),
    });
    await this.#loadPromptSets();
    this.#itemsAtReady = { image: this.#image.itemsRun, text: this.#text.itemsRun };
    this.#publishInfo();
  }

  async #loadPromptSets(): Promise<void> {
    // Only a verified file is trusted: prompt_sets.json must be listed (and so hashed) in model.json `files`.
    const listed = 'prompt_sets.json' in this.manifest.files;
    if (!listed && existsSync(join(this.dir, 'prompt_sets.json'))) {
      throw new Error('file check failed: prompt_sets.json is present but not listed in model.json "files"');
    }
    const own = listed ? await readPromptSetFile(join(this.dir, 'prompt_sets.json'), 'model') : [];
    for (const set of mergePromptSets(own, this.#deps.servicePromptSets)) {
      const classEmbeddings = await this.#classEmbeddings(set.labels, set.templates, {}, true);
      this.#promptSets.set(set.name, {
        info: {
          name: set.name,
          version: promptSetVersion(set, this.sha256),
          model: this.id,
          labels: set.labels.map((l) => l.name),
          templates: set.templates,
          ...(set.description === undefined ? {} : { description: set.description }),
          source: set.source,
        },
        labels: set.labels,
        classEmbeddings,
      });
    }
  }

  #provider(): string {
    const { image, text } = { image: this.#pools.image.provider, text: this.#pools.text.provider };
    return image === text ? image : `image:${image},text:${text}`;
  }

  #publishInfo(): void {
    const gauge = this.#deps.metrics.modelInfo;
    // One series per model: a replacement worker may have landed on another provider.
    if (this.#publishedProvider !== undefined) gauge.remove({ model: this.id, sha256: this.sha256, provider: this.#publishedProvider });
    this.#publishedProvider = this.#provider();
    gauge.set({ model: this.id, sha256: this.sha256, provider: this.#publishedProvider }, 1);
  }

  info(): ModelInfo {
    return {
      id: this.id,
      sha256: this.sha256,
      embed_dim: this.embedDim,
      image_size: this.imageSpec.size,
      context_length: this.manifest.text.context_length,
      logit_scale: this.logitScale,
      providers: { image: this.#pools.image.provider, text: this.#pools.text.provider },
      intended_use: this.manifest.intended_use,
      default: this.#deps.isDefault,
    };
  }

  async embedImages(pixels: Float32Array[], options?: RequestOptions): Promise<Float32Array[]> {
    const expected = 3 * this.imageSpec.size * this.imageSpec.size;
    for (const p of pixels) {
      if (p.length !== expected) throw badRequest(`an image tensor must have ${expected} values (3 x ${this.imageSpec.size} x ${this.imageSpec.size})`);
    }
    const rows = await this.#image.submit(pixels, options);
    return rows.map(l2normalize);
  }

  embedTexts(texts: string[], options?: RequestOptions): Promise<Float32Array[]> {
    return this.#embedCleaned(texts.map(cleanText), options ?? {});
  }

  /**
   * `loadTime`: work of the service itself (golden check, prompt sets) goes in batch-sized pieces, one after
   * the other, so that it never meets the queue bound that protects the service from its clients.
   */
  async #embedTokenized(ids: number[][], options: RequestOptions, loadTime = false): Promise<Float32Array[]> {
    if (!loadTime) return (await this.#text.submit(ids, options)).map(l2normalize);
    const size = this.#deps.config.batching.text.maxBatchSize;
    const rows: Float32Array[] = [];
    for (let i = 0; i < ids.length; i += size) rows.push(...(await this.#text.submit(ids.slice(i, i + size), options)));
    return rows.map(l2normalize);
  }

  /**
   * Through the cache: hits are answered at once, texts another request is already computing are awaited
   * (one computation for concurrent misses), the rest go to the encoder as one group.
   */
  async #embedCleaned(cleaned: string[], options: RequestOptions, loadTime = false): Promise<Float32Array[]> {
    const { cache, metrics } = this.#deps;
    const out = new Array<Float32Array>(cleaned.length);
    const waits: Promise<void>[] = [];
    const misses = new Map<string, { text: string; indices: number[] }>();
    let hits = 0;
    cleaned.forEach((text, i) => {
      const key = TextEmbeddingCache.key(this.sha256, text);
      const cached = cache.get(key);
      if (cached !== undefined) {
        out[i] = cached;
        hits++;
        return;
      }
      const pending = misses.get(key);
      if (pending !== undefined) {
        pending.indices.push(i);
        hits++;
        return;
      }
      const shared = this.#inflightTexts.get(key);
      if (shared !== undefined) {
        hits++;
        waits.push(this.#awaitShared(shared, text, options).then((v) => void (out[i] = v)));
        return;
      }
      misses.set(key, { text, indices: [i] });
    });
    if (hits > 0) metrics.textCacheHits.inc({ model: this.id }, hits);

    if (misses.size > 0) {
      metrics.textCacheMisses.inc({ model: this.id }, misses.size);
      const entries = [...misses.entries()];
      const computation = this.#embedTokenized(entries.map(([, m]) => this.#tokenizer.encodeCleaned(m.text)), options, loadTime);
      entries.forEach(([key, miss], j) => {
        const one = computation.then((rows) => rows[j]!);
        one.catch(() => undefined);
        this.#inflightTexts.set(key, one);
        one.then(
          (vector) => cache.set(key, vector),
          () => undefined,
        ).finally(() => {
          if (this.#inflightTexts.get(key) === one) this.#inflightTexts.delete(key);
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
  async #awaitShared(shared: Promise<Float32Array>, text: string, options: RequestOptions): Promise<Float32Array> {
    try {
      return await shared;
    } catch (err) {
      const theirs = err instanceof CancelledError || (err instanceof ServiceError && err.code === 'deadline_exceeded');
      if (!theirs || options.signal?.aborted) throw err;
      const [vector] = await this.#embedCleaned([text], options);
      return vector!;
    }
  }

  classEmbeddings(labels: LabelSpec[], templates: string[], options?: RequestOptions): Promise<Float32Array[]> {
    return this.#classEmbeddings(labels, templates, options ?? {}, false);
  }

  async #classEmbeddings(labels: LabelSpec[], templates: string[], options: RequestOptions, loadTime: boolean): Promise<Float32Array[]> {
    const prompts = labels.flatMap((label) => templates.map((t) => fillTemplate(t, label)));
    const embeddings = await this.#embedCleaned(prompts.map(cleanText), options, loadTime);
    return labels.map((_, i) => ensemble(embeddings.slice(i * templates.length, (i + 1) * templates.length)));
  }

  promptSet(name: string): LoadedPromptSet | undefined {
    return this.#promptSets.get(name);
  }

  promptSets(): PromptSetInfo[] {
    return [...this.#promptSets.values()].map((s) => s.info);
  }

  classify(imageEmbedding: Float32Array, classEmbeddings: Float32Array[], labels: LabelSpec[], topK?: number): Prediction[] {
    return classify(imageEmbedding, classEmbeddings, labels, this.logitScale, topK);
  }

  readonly debug: EngineDebug = {
    workers: (encoder) => this.#pools[encoder].workers.map((w) => w.worker),
    stall: (encoder, ms) => {
      for (const w of this.#pools[encoder].workers) w.stall(ms);
    },
    itemsRun: (encoder) => this.#batcher(encoder).itemsRun - this.#itemsAtReady[encoder],
    queueLength: (encoder) => this.#batcher(encoder).queueLength,
    inflight: (encoder) => this.#batcher(encoder).inflight,
    retryAfterSeconds: (encoder) => this.#batcher(encoder).retryAfterSeconds(),
    onBatch: (encoder, listener) => this.#batcher(encoder).onBatch(listener),
    buffersKept: (encoder) => this.#batcher(encoder).buffersKept,
  };

  #batcher(encoder: EncoderKind): Batcher<Float32Array> | Batcher<number[]> {
    return encoder === 'image' ? this.#image : this.#text;
  }

  /** Lets queued and running batches finish, then stops the workers. */
  async close(): Promise<void> {
    await Promise.all([this.#image.close(), this.#text.close()]);
    await Promise.all([this.#pools.image.close(), this.#pools.text.close()]);
    if (this.#publishedProvider !== undefined) {
      this.#deps.metrics.modelInfo.remove({ model: this.id, sha256: this.sha256, provider: this.#publishedProvider });
    }
  }
}
