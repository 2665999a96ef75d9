/**
 * int8 side by side (issue 26): dynamic int8 (DynamicQuantizeLinear + MatMulInteger, `training.quantize`) and
 * static int8 (calibrated activation ranges, fused kernels, `training.quantize --method static`) against fp32.
 *
 *   node bench/int8.ts [--rounds=3] [--seconds=8] [--image-batches=1,4,16] [--phases=speed,cosine,accuracy,fusion] [--smoke]
 *
 * speed: the plain onnxruntime-node loop (bench/limit.ts, own process each) on the full-size random-weight model
 *   (bench/.cache/vit-b16, exported as `npm run bench` does, and its two int8 copies, made here when missing):
 *   images/s at the best of --image-batches and texts/s padded to the longest, fp32 / dynamic / static run in turn
 *   for --rounds rounds (the order rotates each round), so that drift of the machine weighs on every variant alike;
 *   the speed-up is the median over rounds of int8 / fp32 within a round (min-max beside it).
 * cosine: the same three full-size models through onnxruntime-node on 12 held-out synthetic images (seed 777) and
 *   the demo's 30 modality prompt texts: cosine of each int8 embedding to fp32's.
 * accuracy: the demo model (models/demo; int8 copies in bench/.cache/demo-int8{,-static}) on its 300 held-out
 *   images (seed 777): zero-shot modality accuracy through onnxruntime-node, and `training.quantize --compare`
 *   (the torch reference evaluator), which also checks that no calibration image is an evaluation image.
 * fusion: the kernels onnxruntime runs for each int8 image encoder (its optimized graph's op counts).
 * --smoke: the demo model for every phase, one short round (the machinery, not the figures).
 * Results: bench/results/int8.{json,md}.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { cpuQuota } from '../src/cpu-quota.ts';
import { ensureFullSizeModel } from './full-size-model.ts';
import { makePrompts } from './inputs.ts';
import type { LimitArgs, LimitResult } from './limit.ts';
import { round } from './stats.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'bench', '.cache');
const RESULTS = join(ROOT, 'bench', 'results');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const DEMO = join(ROOT, 'models', 'demo');
const VARIANTS = ['fp32', 'dynamic', 'static'] as const;
type Variant = (typeof VARIANTS)[number];
type Dirs = Record<Variant, string>;

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const smoke = argv.includes('--smoke');
const rounds = Number(arg('rounds') ?? (smoke ? 1 : 3));
const seconds = Number(arg('seconds') ?? (smoke ? 1 : 8));
// Each variant at its best batch, as the bench's plain-loop limit is taken (a batch sweep).
const imageBatches = (arg('image-batches') ?? '1,4,16').split(',').map(Number);
const phases = new Set((arg('phases') ?? 'speed,cosine,accuracy,fusion').split(','));
const threads = cpuQuota();

function log(message: string): void {
  process.stderr.write(`[int8 ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function python(args: string[]): string {
  return execFileSync(PYTHON, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 }).toString('utf8');
}

/** The int8 copies of an fp32 directory, made with training.quantize when missing. */
function ensureInt8(fp32: string, prefix: string): Dirs {
  const dirs: Dirs = { fp32, dynamic: `${prefix}-int8`, static: `${prefix}-int8-static` };
  for (const method of ['dynamic', 'static'] as const) {
    if (existsSync(join(dirs[method], 'model.json'))) continue;
    log(`quantizing ${fp32} (${method}) into ${dirs[method]}`);
    python(['-m', 'training.quantize', '--from-dir', fp32, '--out', dirs[method], '--method', method]);
  }
  return dirs;
}

/** The full-size bench model as `npm run bench` exports it (random weights). */
function runLimit(args: LimitArgs, name: string): LimitResult {
  const file = join(RESULTS, `int8-${name}.args.json`);
  writeFileSync(file, JSON.stringify(args));
  const out = execFileSync(process.execPath, [join(ROOT, 'bench', 'limit.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = out.toString('utf8').trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as LimitResult;
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const spread = (v: number[]): { median: number; min: number; max: number } => ({
  median: round(median(v), 3),
  min: round(Math.min(...v), 3),
  max: round(Math.max(...v), 3),
});

async function speed(dirs: Dirs): Promise<Record<string, unknown>> {
  const prompts = (await makePrompts(dirs.fp32, 512)).map((p) => p.ids);
  const manifest = JSON.parse(readFileSync(join(dirs.fp32, 'model.json'), 'utf8')) as { text: { context_length: number } };
  const runs: Record<Variant, LimitResult[]> = { fp32: [], dynamic: [], static: [] };
  for (let r = 0; r < rounds; r++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]!);
    for (const v of order) {
      const res = runLimit(
        {
          modelDir: dirs[v],
          providers: ['cpu'],
          intraOpThreads: threads,
          spinning: true,
          denormalAsZero: false,
          imageBatchSizes: imageBatches,
          prompts,
          text256Batch: 8,
          textLongestBatch: 32,
          contextLength: manifest.text.context_length,
          minSeconds: seconds,
          minRuns: 2,
          skipText256: true,
        },
        v,
      );
      runs[v].push(res);
      log(
        `round ${r + 1}/${rounds} ${v}: image ${round(res.imageBest.itemsPerSecond, 2)}/s (batch ${res.imageBest.batch}), text ${round(res.textLongest!.itemsPerSecond, 1)}/s`,
      );
    }
  }
  const out: Record<string, unknown> = { rounds, seconds, imageBatches, threads };
  for (const v of VARIANTS) {
    out[v] = {
      imagesPerSecond: spread(runs[v].map((x) => x.imageBest.itemsPerSecond)),
      textsPerSecond: spread(runs[v].map((x) => x.textLongest!.itemsPerSecond)),
    };
    if (v === 'fp32') continue;
    out[`${v}SpeedUp`] = {
      image: spread(runs[v].map((x, i) => x.imageBest.itemsPerSecond / runs.fp32[i]!.imageBest.itemsPerSecond)),
      text: spread(runs[v].map((x, i) => x.textLongest!.itemsPerSecond / runs.fp32[i]!.textLongest!.itemsPerSecond)),
    };
  }
  return out;
}

interface Bundle {
  count: number;
  size: number;
  modalities: string[];
  classes: { name: string; ids: number[][] }[];
  pixels: Float32Array;
}

function heldOut(modelDir: string, perClass: number, promptSets?: string): Bundle {
  const work = mkdtempSync(join(tmpdir(), 'unimed-int8-'));
  try {
    const prefix = join(work, 'inputs');
    const extra = promptSets === undefined ? [] : ['--prompt-sets', promptSets];
    python([
      join(ROOT, 'bench', 'int8_inputs.py'),
      '--model-dir',
      modelDir,
      '--per-class',
      String(perClass),
      '--seed',
      '777',
      '--out',
      prefix,
      ...extra,
    ]);
    const meta = JSON.parse(readFileSync(`${prefix}.json`, 'utf8')) as Omit<Bundle, 'pixels'>;
    const raw = readFileSync(`${prefix}.f32`);
    const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    return { ...meta, pixels };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const normalize = (v: Float32Array): Float64Array => {
  const n = Math.hypot(...v);
  return Float64Array.from(v, (x) => x / n);
};
const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

class Encoders {
  private readonly image: ort.InferenceSession;
  private readonly text: ort.InferenceSession;

  private constructor(image: ort.InferenceSession, text: ort.InferenceSession) {
    this.image = image;
    this.text = text;
  }

  static async open(dir: string): Promise<Encoders> {
    const opts: ort.InferenceSession.SessionOptions = {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      graphOptimizationLevel: 'all',
    };
    return new Encoders(
      await ort.InferenceSession.create(join(dir, 'image_encoder.onnx'), opts),
      await ort.InferenceSession.create(join(dir, 'text_encoder.onnx'), opts),
    );
  }

  async images(b: Bundle, batch = 50): Promise<Float64Array[]> {
    const plane = 3 * b.size * b.size;
    const out: Float64Array[] = [];
    for (let i = 0; i < b.count; i += batch) {
      const n = Math.min(batch, b.count - i);
      const t = new ort.Tensor('float32', b.pixels.slice(i * plane, (i + n) * plane), [n, 3, b.size, b.size]);
      const res = (await this.image.run({ pixel_values: t })).image_embeds!;
      const d = res.dims[1]!;
      for (let k = 0; k < n; k++) out.push(normalize((res.data as Float32Array).slice(k * d, (k + 1) * d)));
    }
    return out;
  }

  async texts(ids: number[][]): Promise<Float64Array[]> {
    const seq = Math.max(...ids.map((x) => x.length));
    const input = new BigInt64Array(ids.length * seq);
    const mask = new BigInt64Array(ids.length * seq);
    ids.forEach((row, r) =>
      row.forEach((id, j) => {
        input[r * seq + j] = BigInt(id);
        mask[r * seq + j] = 1n;
      }),
    );
    const dims = [ids.length, seq];
    const res = (
      await this.text.run({ input_ids: new ort.Tensor('int64', input, dims), attention_mask: new ort.Tensor('int64', mask, dims) })
    ).text_embeds!;
    const d = res.dims[1]!;
    return ids.map((_, k) => normalize((res.data as Float32Array).slice(k * d, (k + 1) * d)));
  }

  async release(): Promise<void> {
    await this.image.release();
    await this.text.release();
  }
}

function cosines(a: Float64Array[], b: Float64Array[]): { min: number; mean: number } {
  const c = a.map((x, i) => dot(x, b[i]!));
  return { min: round(Math.min(...c), 6), mean: round(c.reduce((s, x) => s + x, 0) / c.length, 6) };
}

async function cosine(dirs: Dirs): Promise<Record<string, unknown>> {
  const b = heldOut(dirs.fp32, 2, existsSync(join(dirs.fp32, 'prompt_sets.json')) ? undefined : join(DEMO, 'prompt_sets.json'));
  const texts = b.classes.flatMap((c) => c.ids);
  const emb: Partial<Record<Variant, { img: Float64Array[]; txt: Float64Array[] }>> = {};
  for (const v of VARIANTS) {
    const e = await Encoders.open(dirs[v]);
    emb[v] = { img: await e.images(b, 4), txt: await e.texts(texts) };
    await e.release();
  }
  const out: Record<string, unknown> = { images: b.count, texts: texts.length };
  for (const v of ['dynamic', 'static'] as const)
    out[v] = { image: cosines(emb[v]!.img, emb.fp32!.img), text: cosines(emb[v]!.txt, emb.fp32!.txt) };
  return out;
}

async function accuracy(dirs: Dirs): Promise<Record<string, unknown>> {
  const b = heldOut(dirs.fp32, 50);
  const out: Record<string, unknown> = { images: b.count, seed: 777 };
  for (const v of VARIANTS) {
    const e = await Encoders.open(dirs[v]);
    const img = await e.images(b);
    const cls: Float64Array[] = [];
    for (const c of b.classes) {
      const t = await e.texts(c.ids);
      const mean = new Float32Array(t[0]!.length);
      for (const x of t) x.forEach((val, i) => (mean[i]! += val / t.length));
      cls.push(normalize(mean));
    }
    await e.release();
    const correct = img.filter((x, i) => {
      const scores = cls.map((c) => dot(x, c));
      return b.classes[scores.indexOf(Math.max(...scores))]!.name === b.modalities[i];
    }).length;
    out[v] = round(correct / b.count, 4);
  }
  const json = join(RESULTS, 'int8-compare.json');
  python(['-m', 'training.quantize', '--compare', dirs.fp32, dirs.dynamic, dirs.static, '--json', json]);
  out.referenceEvaluator = JSON.parse(readFileSync(json, 'utf8')) as unknown;
  return out;
}

/** The op counts of onnxruntime's optimized image graph of each int8 variant: which kernels really run. */
async function fusion(dirs: Dirs): Promise<Record<string, unknown>> {
  const work = mkdtempSync(join(tmpdir(), 'unimed-int8-opt-'));
  const out: Record<string, unknown> = {};
  try {
    for (const v of ['dynamic', 'static'] as const) {
      const file = join(work, `${v}.onnx`);
      const s = await ort.InferenceSession.create(join(dirs[v], 'image_encoder.onnx'), {
        graphOptimizationLevel: 'all',
        optimizedModelFilePath: file,
        logSeverityLevel: 3,
      });
      await s.release();
      const script =
        'import collections, json, sys, onnx; m = onnx.load(sys.argv[1]); c = collections.Counter(n.op_type for n in m.graph.node); ' +
        'print(json.dumps({k: c[k] for k in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "MatMulInteger", "MatMulIntegerToFloat", "QAttention", "QLinearMatMul", "MatMul", "FusedMatMul", "Softmax") if c[k]}))';
      out[v] = JSON.parse(python(['-c', script, file])) as unknown;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

function markdown(r: Record<string, unknown>): string {
  const s = r.speed as
    Record<string, { image: { median: number; min: number; max: number }; text: { median: number; min: number; max: number } }> | undefined;
  const c = r.cosine as Record<string, { image: { min: number; mean: number }; text: { min: number; mean: number } }> | undefined;
  const a = r.accuracy as Record<string, number> | undefined;
  const model = (r.models as { fullSize: Dirs }).fullSize.fp32.split('/').pop()!;
  const fmt = (x: { median: number; min: number; max: number } | undefined): string => (x ? `${x.median}x (${x.min}-${x.max})` : '-');
  const lines = [
    `int8 side by side (${String(r.startedAt)}, ${String(r.cpu)}, ${String(r.threads)} threads, load average ${String(r.loadAverage)})`,
    '',
    '| figure | dynamic int8 | static int8 |',
    '| --- | --- | --- |',
    `| plain loop image / fp32, median of ${rounds} rounds (min-max) | ${fmt(s?.dynamicSpeedUp?.image)} | ${fmt(s?.staticSpeedUp?.image)} |`,
    `| plain loop text (padded to longest) / fp32 | ${fmt(s?.dynamicSpeedUp?.text)} | ${fmt(s?.staticSpeedUp?.text)} |`,
    `| image cosine to fp32, min / mean (${model}) | ${c ? `${c.dynamic!.image.min} / ${c.dynamic!.image.mean}` : '-'} | ${c ? `${c.static!.image.min} / ${c.static!.image.mean}` : '-'} |`,
    `| text cosine to fp32, min / mean (${model}) | ${c ? `${c.dynamic!.text.min} / ${c.dynamic!.text.mean}` : '-'} | ${c ? `${c.static!.text.min} / ${c.static!.text.mean}` : '-'} |`,
    `| demo zero-shot modality accuracy, 300 held-out images (fp32 ${a?.fp32 ?? '-'}) | ${a?.dynamic ?? '-'} | ${a?.static ?? '-'} |`,
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const demo = ensureInt8(DEMO, join(CACHE, 'demo'));
  const full = smoke ? demo : ensureInt8(ensureFullSizeModel(CACHE, python, log).fp32, join(CACHE, 'vit-b16'));
  const result: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    smoke,
    cpu: cpus()[0]?.model ?? 'unknown',
    threads,
    loadAverage: round(loadavg()[0]!, 2),
    models: { fullSize: full, demo },
  };
  if (phases.has('speed')) result.speed = await speed(full);
  if (phases.has('cosine')) result.cosine = await cosine(full);
  if (phases.has('accuracy')) result.accuracy = await accuracy(demo);
  if (phases.has('fusion')) result.fusion = await fusion(demo);
  result.loadAverageAtEnd = round(loadavg()[0]!, 2);
  writeFileSync(join(RESULTS, 'int8.json'), `${JSON.stringify(result, null, 2)}\n`);
  const md = markdown(result);
  writeFileSync(join(RESULTS, 'int8.md'), md);
  process.stdout.write(md);
}

await main();
