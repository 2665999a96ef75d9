import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { Encoder } from '../engine/encoder.ts';
import { imageFeeds, textFeeds, type ImagePixels } from '../engine/feeds.ts';
import type { Metrics } from '../metrics.ts';
import { checkGolden } from './golden.ts';
import { forServedPromptSets, readCalibration } from '../models/calibration.ts';
import { modelSha256, readListedFile, verifyFiles } from '../models/integrity.ts';
import { readManifest } from '../models/manifest.ts';
import type { Manifest } from '../models/manifest.ts';
import { TextEmbedder } from '../models/text-embedder.ts';
import type { TextEmbeddingCache } from '../models/text-embedder.ts';
import { TextTokenizer } from '../models/tokenizer.ts';
import { classEmbeddingsOf, prompts } from '../zeroshot/scoring.ts';
import { mergePromptSets, promptSetVersion, readPromptSetFile } from '../zeroshot/prompt-sets.ts';
import type { PromptSetDefinition } from '../zeroshot/prompt-sets.ts';
import { Model } from './model.ts';
import type { LoadedPromptSet } from './model.ts';
import { LoadSteps } from './load-steps.ts';
import { ModelInfoSeries } from './model-info-metric.ts';

export interface LoadDeps {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  cache: TextEmbeddingCache | undefined;
  /** Prompt sets of the PROMPT_SETS file, for every model. */
  servicePromptSets: PromptSetDefinition[];
  isDefault: boolean;
  /** The inference worker module, when not src/engine/worker.ts (see Encoder). */
  inferenceWorker?: URL;
}

/** A loaded model and what stops it (its encoders, its metric series). */
export interface Loaded {
  model: Model;
  close(): Promise<void>;
}

function encoders(dir: string, manifest: Manifest, deps: LoadDeps): { image: Encoder<ImagePixels>; text: Encoder<number[]> } {
  const { config, logger, metrics } = deps;
  const { image, text } = manifest;
  const common = (file: string, output: string, warmup: ReturnType<typeof imageFeeds>) => ({
    readModel: () => readListedFile(dir, file),
    setup: {
      modelFile: file,
      modelSha256: manifest.files[file]!,
      providers: config.executionProviders,
      intraOpThreads: config.intraOpThreads,
      spinning: config.ortSpinning,
      outputName: output,
      warmup,
    },
    workers: config.workersPerEncoder,
    workerTimeoutMs: config.workerTimeoutMs,
    dim: manifest.embed_dim,
    metrics,
    logger,
    ...(deps.inferenceWorker === undefined ? {} : { workerEntry: deps.inferenceWorker }),
  });
  const imageSpec = { input: image.input, size: image.size };
  const textSpec = { inputIds: text.input_ids, attentionMask: text.attention_mask, padId: text.pad_id, contextLength: text.context_length };
  return {
    image: new Encoder<ImagePixels>({
      ...common(image.file, image.output, imageFeeds(imageSpec, [new Float32Array(3 * image.size * image.size)])),
      label: { model: manifest.id, encoder: 'image' },
      batching: config.batching.image,
      buildFeeds: (images, allocate) => imageFeeds(imageSpec, images, allocate),
    }),
    text: new Encoder<number[]>({
      ...common(text.file, text.output, textFeeds(textSpec, [[text.cls_id, text.sep_id]])),
      label: { model: manifest.id, encoder: 'text' },
      batching: config.batching.text,
      buildFeeds: (ids, allocate) => textFeeds(textSpec, ids, allocate),
      cost: (ids) => ids.length,
    }),
  };
}

/** The model's own prompt sets (only from a verified, listed file) merged with the service's. */
async function promptSetDefinitions(dir: string, manifest: Manifest, service: PromptSetDefinition[]): Promise<PromptSetDefinition[]> {
  const listed = 'prompt_sets.json' in manifest.files;
  if (!listed && existsSync(join(dir, 'prompt_sets.json'))) {
    throw new Error('file check failed: prompt_sets.json is present but not listed in model.json "files"');
  }
  const own = listed ? await readPromptSetFile(join(dir, 'prompt_sets.json'), 'model') : [];
  return mergePromptSets(own, service);
}

/**
 * The service's own work at load (golden texts, prompt sets) goes to an encoder one batch at a time, so that it
 * never meets the queue bound that protects the service from its clients.
 */
async function inBatches<T>(items: T[], batch: number, embed: (items: T[]) => Promise<Float32Array[]>): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < items.length; i += batch) out.push(...(await embed(items.slice(i, i + batch))));
  return out;
}

async function embedPromptSet(set: PromptSetDefinition, model: Model, text: TextEmbedder, batch: number): Promise<LoadedPromptSet> {
  const embeddings = await inBatches(prompts(set.labels, set.templates), batch, (texts) => text.embed(texts));
  const info = {
    name: set.name,
    version: promptSetVersion(set, model.sha256),
    model: model.id,
    labels: set.labels.map((l) => l.name),
    templates: set.templates,
    ...(set.description === undefined ? {} : { description: set.description }),
    source: set.source,
  };
  return { info, labels: set.labels, classEmbeddings: classEmbeddingsOf(embeddings, set.labels.length, set.templates.length) };
}

/**
 * Loads one model directory, in the order a reader would check it: verify (manifest, sha256 of every file),
 * start (workers, provider fallback, warm-up), golden (this service computes what PyTorch computed), prompt
 * sets (embedded once). Rejects, after stopping what it started, with an Error naming the model and the check.
 */
export async function loadModel(dir: string, deps: LoadDeps): Promise<Loaded> {
  let started: { image: Encoder<ImagePixels>; text: Encoder<number[]> } | undefined;
  let id: string | undefined;
  try {
    const manifest = await readManifest(dir);
    id = manifest.id;
    const steps = new LoadSteps(id, deps.logger, deps.metrics);
    const sha256 = modelSha256(manifest.files);
    const t = manifest.text;
    // The encoder files are read once and checked by their workers on the very bytes each session is made from
    // (src/engine/inference-session.ts); the other files are checked here while both encoders start.
    const checkedByWorkers = new Set([manifest.image.file, t.file]);
    const others = Object.fromEntries(Object.entries(manifest.files).filter(([name]) => !checkedByWorkers.has(name)));
    started = encoders(dir, manifest, deps);
    const { image, text: textEncoder } = started;
    const [tokenizer, [imageInfo, textInfo]] = await allSettled(
      steps.time('verify_files', async () => {
        await verifyFiles(dir, others);
        return TextTokenizer.load(dir, t.tokenizer, { contextLength: t.context_length, padId: t.pad_id, clsId: t.cls_id, sepId: t.sep_id });
      }),
      steps.time('encoders', () => allSettled(image.start(), textEncoder.start())),
    );
    steps.recordEncoder('image', imageInfo);
    steps.recordEncoder('text', textInfo);
    deps.logger.info({ model: id, providers: { image: imageInfo.provider, text: textInfo.provider } }, 'inference workers ready');

    const imageSpec = { size: manifest.image.size, mean: manifest.image.mean, std: manifest.image.std };
    await steps.time('golden', () =>
      checkGolden(dir, manifest, {
        tokenizer,
        imageSpec,
        imagePixels: deps.config.limits.imagePixels,
        // One text per batch: golden texts run from 2 to 256 tokens and a batch pads each to its longest (the
        // whole golden step took 2.9 s that way on the full-size model).
        embedTokenized: (ids) => inBatches(ids, 1, (some) => textEncoder.embed(some)),
        embedImages: (pixels) => inBatches(pixels, deps.config.batching.image.maxBatchSize, (some) => image.embed(some)),
      }),
    );

    const text = new TextEmbedder({ id, sha256 }, tokenizer, textEncoder, deps.cache, deps.metrics);
    const model = new Model({
      dir,
      manifest,
      sha256,
      isDefault: deps.isDefault,
      image,
      textEncoder,
      text,
      maxTokensPerRequest: deps.config.limits.tokensPerRequest,
    });
    await steps.time('prompt_sets', async () => {
      for (const set of await promptSetDefinitions(dir, manifest, deps.servicePromptSets)) {
        model.addPromptSet(await embedPromptSet(set, model, text, deps.config.batching.text.maxBatchSize));
      }
    });
    const calibration = await readCalibration(dir, {
      sha256,
      embedDim: manifest.embed_dim,
      imageEncoderSha256: manifest.files[manifest.image.file] ?? '',
      textEncoderSha256: manifest.files[t.file] ?? '',
    });
    if (calibration !== undefined) {
      const served = new Map(model.promptSets().map((info) => [info.name, { version: info.version, labels: info.labels }]));
      const applied = forServedPromptSets(calibration, served);
      if (applied.stale.length > 0)
        deps.logger.warn(
          { model: id, promptSets: applied.stale },
          'calibration.json calibrates prompt sets that are now served with another version: they get no prediction sets until recalibrated',
        );
      model.attachCalibration(applied.calibration);
    }
    steps.finish();

    const series = new ModelInfoSeries(deps.metrics, model, deps.config.executionProviders[0] ?? 'cpu');
    series.publish(model.provider);
    for (const encoder of [image, textEncoder]) encoder.onWorkerReady(() => series.publish(model.provider));
    const encodersOf = started;
    return {
      model,
      close: async () => {
        await Promise.all([encodersOf.image.close(), encodersOf.text.close()]);
        series.remove();
      },
    };
  } catch (err) {
    await Promise.all([started?.image.close(), started?.text.close()]);
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`model ${id ?? dir} (${dir}) cannot be served: ${message}`, { cause: err });
  }
}

/**
 * Both results, or the first failure once both have settled: a failed start never closes the other encoder while
 * onnxruntime is still creating its session on a worker thread (a thread terminated then aborts the process).
 */
async function allSettled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === 'rejected') throw first.reason;
  if (second.status === 'rejected') throw second.reason;
  return [first.value, second.value];
}
