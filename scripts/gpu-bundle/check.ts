/**
 * The GPU check, run from the unpacked bundle by gpu-check.sh with the bundled node (docs/performance.md "The GPU
 * check"). Needs nothing but the bundle: no network, no npm, no Node of the machine's own.
 *
 *   ./gpu-check.sh [--provider webgpu|cpu] [--model auto|demo|full] [--seconds 8] [--warmup 2]
 *                  [--concurrency 1,16,64] [--timeout 570] [--work DIR] [--python python3]
 *
 * 1. The reference: the service on the CPU provider. It turns ready only when its golden check passed (it refuses
 *    to serve otherwise); the embeddings of fixed images and texts; images/s and texts/s at each concurrency.
 * 2. The service again, asking for `--provider` first (EXECUTION_PROVIDERS=webgpu,cpu): the provider it actually
 *    uses (GET /models and unimed_model_info), the golden check again, the same embeddings compared with the
 *    reference (cosine >= 0.999 each, min printed), and its figures when it is not the CPU. When WebGPU cannot start,
 *    why, in plain words.
 *
 * Exit status: 0 every check passed; 1 a check failed (golden, parity, errors under load, a service that would not
 * start, the time limit); 3 the CPU checks passed but WebGPU could not start; 2 bad arguments.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { closedLoop, cosine, embeddings, type Body, type LoadResult } from './load.ts';
import { goldenSeconds, killAll, logLines, NotReady, servedProviders, startService } from './service.ts';
import { explainWebGpuFailure, nvidiaGpu, prepareVulkan } from './vulkan.ts';

const MIN_COSINE = 0.999;
const say = (line = ''): void => void process.stdout.write(`${line}\n`);

const { values: args } = parseArgs({
  options: {
    provider: { type: 'string', default: 'webgpu' },
    model: { type: 'string', default: 'auto' },
    seconds: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '1,16,64' },
    timeout: { type: 'string', default: '570' },
    work: { type: 'string' },
    python: { type: 'string', default: 'python3' },
  },
});
const provider = args.provider;
const levels = args.concurrency.split(',').map(Number);
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const timeout = Number(args.timeout);
if (
  !['webgpu', 'cpu'].includes(provider) ||
  !['auto', 'demo', 'full'].includes(args.model) ||
  levels.some((c) => !Number.isInteger(c) || c < 1 || c > 128) ||
  !(seconds > 0 && warmup >= 0 && timeout > 0)
) {
  process.stderr.write(
    'usage: gpu-check.sh [--provider webgpu|cpu] [--model auto|demo|full] [--seconds N] [--warmup N] [--concurrency 1,16,64] [--timeout N]\n',
  );
  process.exit(2);
}

const BUNDLE = resolve(dirname(process.argv[1]!), '..');
const work = args.work === undefined ? mkdtempSync(join(tmpdir(), 'unimed-gpu-check-')) : resolve(args.work);
mkdirSync(work, { recursive: true });
const started = Date.now();
const watchdog = setTimeout(() => {
  say(`RESULT: FAIL (the check ran past its ${timeout} s limit)`);
  killAll();
  process.exit(1);
}, timeout * 1000);
watchdog.unref();
process.on('exit', killAll);

/** A full-size model (ViT-B/16 + BiomedBERT-base, random weights) exported here when Python has torch. */
function fullModel(): string | undefined {
  const python = args.python;
  try {
    execFileSync(python, ['-c', 'import torch, onnx, numpy, PIL'], { stdio: 'ignore', timeout: 60_000 });
  } catch {
    say(`model: ${python} with torch, onnx, numpy and Pillow not found: the demo model`);
    return undefined;
  }
  const t0 = Date.now();
  const ckpt = join(work, 'vit-b16.pt');
  const vocab = join(work, 'vocab.txt');
  const out = join(work, 'vit-b16');
  try {
    const opts = { cwd: BUNDLE, stdio: ['ignore', 'ignore', 'pipe'] as ('ignore' | 'pipe')[], timeout: 300_000 };
    execFileSync(python, ['-m', 'training.random_checkpoint', '--arch', 'vit-b16', '--out', ckpt, '--vocab-out', vocab], opts);
    execFileSync(
      python,
      ['-m', 'training.export', '--checkpoint', ckpt, '--vocab', vocab, '--out', out, '--id', 'unimed-bench-vit-b16-random', '--overwrite'],
      opts,
    );
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-3).join(' | ') ?? String(err);
    say(`model: exporting the full-size model failed (${stderr}): the demo model`);
    return undefined;
  }
  say(`model: full-size ViT-B/16 + BiomedBERT-base with random weights, exported here in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return out;
}

const WORDS = (
  'a chest x-ray showing pneumonia in the right lower lobe ct scan of abdomen with contrast liver lesion mri brain ' +
  't2-weighted no acute infarct ultrasound image kidney hydronephrosis histopathology slide adenocarcinoma h&e stain ' +
  'retinal fundus photograph diabetic retinopathy and hemorrhages normal study without findings an medical'
).split(' ');

/** `count` distinct prompts of 3 to `maxWords` words (a fixed sequence: the same in every run). */
function prompts(count: number, maxWords: number): string[] {
  let state = 12345;
  const rand = (): number => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const out = new Set<string>();
  while (out.size < count) {
    const n = 3 + Math.floor(rand() * (maxWords - 2));
    out.add(Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!).join(' '));
  }
  return [...out];
}

say(`unimed-serve GPU check: ${readFileSync(join(BUNDLE, 'VERSION'), 'utf8').trim()}`);
say(
  `machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; GPU: ${nvidiaGpu() ?? 'none found (nvidia-smi)'}`,
);
say(`asked for: ${provider}; work folder: ${work}`);
const modelDir =
  args.model === 'demo'
    ? join(BUNDLE, 'models/demo')
    : ((args.model === 'full' || provider !== 'cpu' ? fullModel() : undefined) ?? join(BUNDLE, 'models/demo'));
if (args.model === 'auto' && provider === 'cpu')
  say('model: the demo model (--provider cpu; --model full exports a full-size one where Python has torch)');
const images: Body[] = [
  ...readdirSync(join(BUNDLE, 'inputs'))
    .filter((n) => n.endsWith('.jpg'))
    .map((n) => ({ path: '/embed/image', type: 'image/jpeg', data: readFileSync(join(BUNDLE, 'inputs', n)) })),
  ...readdirSync(modelDir)
    .filter((n) => n.endsWith('.png'))
    .map((n) => ({ path: '/embed/image', type: 'image/png', data: readFileSync(join(modelDir, n)) })),
];
const parityTexts = [...prompts(23, 24), prompts(1, 150)[0]!];
const loadTexts = prompts(512, 24).map((text) => ({
  path: '/embed/text',
  type: 'application/json',
  data: Buffer.from(JSON.stringify({ texts: [text] })),
}));

interface Run {
  label: string;
  providers: { image: string; text: string; metric: string; requested: string; model: string };
  images: number[][];
  texts: number[][];
  figures?: { images: LoadResult[]; texts: LoadResult[] };
  /** The service's output (its log, and what native code printed). */
  output: string;
}

const baseEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? work,
  MODEL_DIRS: modelDir,
  LOG_LEVEL: 'info',
  AUDIT_LOG: join(work, 'audit.log'),
  // Load prompts repeat: every text reaches the encoder.
  TEXT_CACHE_BYTES: '0',
};

async function figures(url: string): Promise<{ images: LoadResult[]; texts: LoadResult[] }> {
  const common = { url, items: 1, warmupMs: warmup * 1000, durationMs: seconds * 1000, requestTimeoutMs: 60_000 };
  const out = { images: [] as LoadResult[], texts: [] as LoadResult[] };
  for (const c of levels) out.images.push(await closedLoop({ ...common, bodies: images.slice(0, 4), concurrency: c }));
  for (const c of levels) out.texts.push(await closedLoop({ ...common, bodies: loadTexts, concurrency: c }));
  return out;
}

function printFigures(label: string, f: { images: LoadResult[]; texts: LoadResult[] }): void {
  const row = (r: LoadResult): string =>
    `${r.perSecond.toFixed(1)}${r.errors > 0 ? ` (${r.errors} failed: ${JSON.stringify(r.failures)})` : ''}`;
  say(`figures, provider ${label} (${seconds} s per figure after ${warmup} s of warm-up):`);
  say(`  concurrency        ${levels.map((c) => String(c).padStart(10)).join('')}`);
  say(`  images/s           ${f.images.map((r) => row(r).padStart(10)).join('')}`);
  say(`  texts/s            ${f.texts.map((r) => row(r).padStart(10)).join('')}`);
}

/** Starts the service, reads what it serves and the parity embeddings; figures unless it serves on `noFiguresOn`. */
async function serve(label: string, providers: string, extraEnv: Record<string, string>, noFiguresOn?: string): Promise<Run> {
  const logFile = join(work, `service-${label}.log`);
  say(`starting the service with EXECUTION_PROVIDERS=${providers} (log: ${logFile})`);
  const service = await startService({
    bundle: BUNDLE,
    env: { ...baseEnv, ...extraEnv, EXECUTION_PROVIDERS: providers },
    logFile,
    readyTimeoutMs: 240_000,
  });
  try {
    const served = await servedProviders(service.url);
    const golden = await goldenSeconds(service.url);
    say(
      `  ready: model ${served.model}; golden check passed${golden === undefined ? '' : ` (${golden.toFixed(2)} s)`}: the service turns ready only then`,
    );
    say(
      `  provider actually used: image ${served.image}, text ${served.text} (unimed_model_info provider="${served.metric}", requested_provider="${served.requested}")`,
    );
    const run: Run = {
      label,
      output: '',
      providers: served,
      images: (await Promise.all(images.map((b) => embeddings(service.url, b, 60_000)))).map((e) => e[0]!),
      texts: await embeddings(
        service.url,
        { path: '/embed/text', type: 'application/json', data: Buffer.from(JSON.stringify({ texts: parityTexts })) },
        60_000,
      ),
    };
    if (served.image !== noFiguresOn || served.text !== noFiguresOn) {
      run.figures = await figures(service.url);
      printFigures(served.image === served.text ? served.image : `image ${served.image} / text ${served.text}`, run.figures);
    }
    run.output = service.output();
    return run;
  } finally {
    await service.stop();
  }
}

function failedLoad(err: unknown, what: string): never {
  if (err instanceof NotReady) {
    const fatal = logLines(err.output).find((l) => l.level === 60);
    const message = (fatal?.err as { message?: string } | undefined)?.message ?? '';
    if (/golden check failed/.test(message))
      say(`RESULT: FAIL (${what}: the golden check failed, so the service refused to serve: ${message})`);
    else
      say(
        `RESULT: FAIL (${what}: ${err.message}${message ? `: ${message}` : ''}; last lines: ${err.output.trim().split('\n').slice(-3).join(' | ')})`,
      );
  } else {
    say(`RESULT: FAIL (${what}: ${err instanceof Error ? err.message : String(err)})`);
  }
  process.exit(1);
}

say(`model: ${modelDir}`);

const failures: string[] = [];
let reference: Run;
try {
  reference = await serve('reference-cpu', 'cpu', {});
} catch (err) {
  failedLoad(err, 'the service on the CPU provider');
}
for (const f of [...reference.figures!.images, ...reference.figures!.texts])
  if (f.errors > 0) failures.push(`${f.errors} failed requests on cpu at concurrency ${f.concurrency}`);

const vulkan = provider === 'webgpu' ? prepareVulkan(BUNDLE, work) : undefined;
if (vulkan !== undefined) {
  say('WebGPU prerequisites (Dawn on Vulkan):');
  for (const fact of vulkan.facts) say(`  ${fact}`);
  for (const problem of vulkan.problems) say(`  problem: ${problem}`);
}
let target: Run;
try {
  // The CPU's figures are the reference's: a second CPU run (--provider cpu, or a fallback) only checks parity.
  target = await serve(provider, provider === 'cpu' ? 'cpu' : `${provider},cpu`, vulkan?.env ?? {}, 'cpu');
} catch (err) {
  failedLoad(err, `the service asking for ${provider}`);
}
const compare = (a: number[][], b: number[][]): number => Math.min(...a.map((v, i) => cosine(v, b[i]!)));
const minImage = compare(reference.images, target.images);
const minText = compare(reference.texts, target.texts);
const used =
  target.providers.image === target.providers.text
    ? target.providers.image
    : `image ${target.providers.image} / text ${target.providers.text}`;
say(
  `parity with the CPU run (${images.length} images, ${parityTexts.length} texts; >= ${MIN_COSINE}): min cosine images ${minImage.toFixed(6)}, texts ${minText.toFixed(6)} (provider ${used})`,
);
if (!(minImage >= MIN_COSINE)) failures.push(`image embeddings differ from the CPU run (min cosine ${minImage.toFixed(6)})`);
if (!(minText >= MIN_COSINE)) failures.push(`text embeddings differ from the CPU run (min cosine ${minText.toFixed(6)})`);
for (const f of [...(target.figures?.images ?? []), ...(target.figures?.texts ?? [])])
  if (f.errors > 0) failures.push(`${f.errors} failed requests on ${used}`);

let unavailable: string[] = [];
if (provider !== 'cpu' && (target.providers.image !== provider || target.providers.text !== provider)) {
  const reasons = logLines(target.output)
    .filter((l) => l.msg === 'execution provider unavailable, took the next one' && l.provider === provider)
    .map((l) => `${String(l.encoder)} encoder: ${String(l.reason)}`);
  unavailable = explainWebGpuFailure(target.output, reasons);
  say(`WebGPU cannot start here: the service fell back to ${used}. Why:`);
  for (const line of [...(vulkan?.problems ?? []), ...unavailable]) say(`  - ${line}`);
}
say(`provider actually used: ${used} (asked for ${provider}); ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
say(
  `GPU-CHECK-RESULT ${JSON.stringify({
    asked: provider,
    used,
    gpu: nvidiaGpu() ?? null,
    model: target.providers.model,
    parity: { images: minImage, texts: minText },
    figures: Object.fromEntries(
      [reference, target]
        .filter((r) => r.figures !== undefined)
        .map((r) => [
          r.label === 'reference-cpu' ? 'cpu' : r.label,
          {
            concurrency: levels,
            imagesPerSecond: r.figures!.images.map((f) => +f.perSecond.toFixed(2)),
            textsPerSecond: r.figures!.texts.map((f) => +f.perSecond.toFixed(2)),
          },
        ]),
    ),
  })}`,
);
if (failures.length > 0) {
  say(`RESULT: FAIL (${failures.join('; ')})`);
  process.exit(1);
}
if (unavailable.length > 0) {
  say('RESULT: WEBGPU UNAVAILABLE (the CPU checks passed; WebGPU could not start: see above)');
  process.exit(3);
}
say(`RESULT: PASS (golden check, parity and figures on ${used})`);
process.exit(0);
