/**
 * Benchmark item 1, the runtime's own limit: a plain onnxruntime-node loop over ready tensors, no HTTP, no
 * decoding, no batching logic. Runs as its own process (`node bench/limit.ts ARGS.json`) so that nothing else
 * shares its cores; prints one JSON line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { createSessionWithFallback } from '../src/engine/inference-session.ts';

export interface LimitArgs {
  modelDir: string;
  providers: string[];
  intraOpThreads: number;
  /** ORT intra-op spinning (its default is on). */
  spinning: boolean;
  /** ORT session.set_denormal_as_zero (flush-to-zero; its default is off). */
  denormalAsZero: boolean;
  imageBatchSizes: number[];
  /** Token ids ([CLS] ... [SEP]) of the short prompts. */
  prompts: number[][];
  /** Batch size for the padded-to-256 run (the reference pads every text to the context length). */
  text256Batch: number;
  textLongestBatch: number;
  contextLength: number;
  /** Each measurement runs at least this long (and at least `minRuns` runs) after one warm-up run. */
  minSeconds: number;
  minRuns: number;
  /** Skip the text encoder (image-only comparisons). */
  imageOnly?: boolean;
  /** Skip the padded-to-256 text run (comparisons of the padded-to-longest figure only). */
  skipText256?: boolean;
}

export interface Throughput {
  batch: number;
  runs: number;
  seconds: number;
  itemsPerSecond: number;
  /** Mean sequence length fed (text only). */
  seq?: number;
}

export interface LimitResult {
  modelDir: string;
  provider: { image: string; text: string };
  intraOpThreads: number;
  spinning: boolean;
  denormalAsZero: boolean;
  image: Throughput[];
  imageBest: Throughput;
  text256?: Throughput;
  textLongest?: Throughput;
}

async function session(path: string, a: LimitArgs): Promise<{ session: ort.InferenceSession; provider: string }> {
  return createSessionWithFallback(a.providers, (p) =>
    ort.InferenceSession.create(path, {
      executionProviders: [p === 'cuda' ? { name: 'cuda', deviceId: 0 } : p],
      intraOpNumThreads: a.intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: a.spinning ? '1' : '0' }, set_denormal_as_zero: a.denormalAsZero ? '1' : '0' } },
    }),
  );
}

/** Warm-up once, then run until both bounds are met; `feeds(i)` gives the i-th run's inputs. */
async function measure(
  s: ort.InferenceSession,
  a: LimitArgs,
  batch: number,
  feeds: (i: number) => { feeds: Record<string, ort.Tensor>; seq?: number },
): Promise<Throughput> {
  await s.run(feeds(0).feeds);
  let runs = 0;
  let seqSum = 0;
  const start = performance.now();
  let elapsed = 0;
  while (runs < a.minRuns || elapsed < a.minSeconds * 1000) {
    const f = feeds(runs + 1);
    await s.run(f.feeds);
    seqSum += f.seq ?? 0;
    runs++;
    elapsed = performance.now() - start;
  }
  const seconds = elapsed / 1000;
  return { batch, runs, seconds, itemsPerSecond: (batch * runs) / seconds, ...(seqSum > 0 ? { seq: seqSum / runs } : {}) };
}

function textFeeds(prompts: number[][], pad: 'longest' | number): { feeds: Record<string, ort.Tensor>; seq: number } {
  const seq = pad === 'longest' ? Math.max(...prompts.map((p) => p.length)) : pad;
  const ids = new BigInt64Array(prompts.length * seq);
  const mask = new BigInt64Array(prompts.length * seq);
  prompts.forEach((p, row) => {
    p.forEach((id, j) => {
      ids[row * seq + j] = BigInt(id);
      mask[row * seq + j] = 1n;
    });
  });
  const dims = [prompts.length, seq];
  return { feeds: { input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) }, seq };
}

export async function runLimit(a: LimitArgs): Promise<LimitResult> {
  const manifest = JSON.parse(readFileSync(join(a.modelDir, 'model.json'), 'utf8')) as {
    image: { size: number; file: string; input: string };
    text: { file: string };
  };
  const size = manifest.image.size;
  const img = await session(join(a.modelDir, manifest.image.file), a);
  const image: Throughput[] = [];
  for (const batch of a.imageBatchSizes) {
    const data = new Float32Array(batch * 3 * size * size);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
    const tensor = new ort.Tensor('float32', data, [batch, 3, size, size]);
    image.push(await measure(img.session, a, batch, () => ({ feeds: { [manifest.image.input]: tensor } })));
  }
  await img.session.release();
  const imageBest = image.reduce((best, t) => (t.itemsPerSecond > best.itemsPerSecond ? t : best));
  if (a.imageOnly)
    return {
      modelDir: a.modelDir,
      provider: { image: img.provider, text: 'none' },
      intraOpThreads: a.intraOpThreads,
      spinning: a.spinning,
      denormalAsZero: a.denormalAsZero,
      image,
      imageBest,
    };

  const txt = await session(join(a.modelDir, manifest.text.file), a);
  const slice = (i: number, n: number): number[][] => {
    const out: number[][] = [];
    for (let k = 0; k < n; k++) out.push(a.prompts[(i * n + k) % a.prompts.length]!);
    return out;
  };
  const text256 = a.skipText256
    ? undefined
    : await measure(txt.session, a, a.text256Batch, (i) => textFeeds(slice(i, a.text256Batch), a.contextLength));
  const textLongest = await measure(txt.session, a, a.textLongestBatch, (i) => textFeeds(slice(i, a.textLongestBatch), 'longest'));
  await txt.session.release();
  return {
    modelDir: a.modelDir,
    provider: { image: img.provider, text: txt.provider },
    intraOpThreads: a.intraOpThreads,
    spinning: a.spinning,
    denormalAsZero: a.denormalAsZero,
    image,
    imageBest,
    ...(text256 === undefined ? {} : { text256 }),
    textLongest,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LimitArgs;
  const result = await runLimit(args);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
