/**
 * `npm run bench`: the limit, the seed's pipeline and the service, measured in one run on one machine
 * (issue 5). Writes bench/results/{results.json,summary.md,*.svg} and prints the target ratios.
 *
 *   node bench/run.ts [--smoke] [--phases limit,int8,seed,service,rss] [--publish]
 *
 * --smoke: the demo model, a few seconds per phase (< 90 s; checks the machinery, not the speed).
 * Phase `pairs` (in the defaults): the plain loop and the service's /embed/image c=16 interleaved, loop, service,
 * loop, service, ... for IMAGE_PAIRS pairs, so that drift of the machine weighs on both sides of the ratio alike.
 * Phase `frontend` (in the defaults; with --smoke name it): the near-free model against a plain decode-and-resize
 * loop, per CPU set of --frontend-cpus=LIST/LIST/... (taskset lists; default `0` and all CPUs) (bench/frontend.ts).
 * --publish: also copy the summary and charts to bench/RESULTS.md and bench/charts/ (committed).
 * The service inherits this process's environment (WORKERS_PER_ENCODER, INTRA_OP_THREADS, UV_THREADPOOL_SIZE,
 * MALLOC_ARENA_MAX, EXECUTION_PROVIDERS, IMAGE_MAX_BATCH_SIZE...), so tuning runs need no code change.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuQuota } from '../src/cpu-quota.ts';
import { latencyChart, throughputChart } from './charts.ts';
import { cpuCount, frontendMarkdown, runFrontend } from './frontend.ts';
import type { FrontendResult } from './frontend.ts';
import { ensureFullSizeModel } from './full-size-model.ts';
import { BENCH_PROMPT_SET, makePrompts, writeBenchJpeg } from './inputs.ts';
import type { LimitArgs, LimitResult } from './limit.ts';
import type { Scenario, ScenarioResult } from './load.ts';
import { metricValue, servedProvider, startService } from './service.ts';
import type { MemoryMaps, RunningService } from './service.ts';
import { round, summarize } from './stats.ts';
import type { LatencySummary } from './stats.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'bench', '.cache');
const RESULTS = join(ROOT, 'bench', 'results');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
/** prom-client samples event-loop delay with a 10 ms timer; its histogram includes that interval. */
const EVENT_LOOP_RESOLUTION_S = 0.01;

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const publish = argv.includes('--publish');
const phasesArg = argv.find((a) => a.startsWith('--phases='))?.slice('--phases='.length);
const phases = new Set((phasesArg ?? (smoke ? 'limit,service,pairs,rss' : 'limit,int8,seed,service,pairs,frontend,rss')).split(','));
const providers = (process.env.EXECUTION_PROVIDERS ?? 'cpu')
  .split(',')
  .map((s) => s.trim().toLowerCase())
  .filter(Boolean);
const threads = cpuQuota();
const allCpus = `0-${cpus().length - 1}`;
const frontendCpus = (
  argv.find((a) => a.startsWith('--frontend-cpus='))?.slice('--frontend-cpus='.length) ?? (cpus().length > 1 ? `0/${allCpus}` : '0')
)
  .split('/')
  .filter(Boolean);

const P = smoke
  ? {
      imageBatches: [1, 2],
      limitSeconds: 1,
      warmupMs: 500,
      shortMs: 2_000,
      longMs: 3_000,
      concurrency: [1, 4],
      rss: [100, 300],
      prompts: 2_000,
      pairs: 5,
      pairLoopSeconds: 1,
      pairMs: 2_000,
    }
  : {
      imageBatches: [1, 2, 4, 8, 16],
      limitSeconds: 8,
      warmupMs: 5_000,
      shortMs: 30_000,
      longMs: 45_000,
      concurrency: [1, 4, 16, 64],
      rss: [1_000, 10_000],
      prompts: 4_000,
      pairs: 5,
      pairLoopSeconds: 8,
      pairMs: 15_000,
    };

/** CPU time counters of /proc/stat (Linux): steal is time the hypervisor gave to other guests. */
function cpuTimes(): { total: number; steal: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return undefined;
  }
}

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

function python(args: string[]): void {
  execFileSync(PYTHON, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}

/** The full-size bench model (random weights), exported once and kept in bench/.cache. */
function ensureModels(): { fp32: string; int8: string; ckpt: string; vocab: string } {
  const { fp32, ckpt, vocab } = ensureFullSizeModel(CACHE, python, log);
  const int8 = join(CACHE, 'vit-b16-int8');
  if (phases.has('int8') && !existsSync(join(int8, 'model.json'))) {
    log('quantizing it to int8 (training.quantize)');
    python(['-m', 'training.quantize', '--from-dir', fp32, '--out', int8]);
  }
  return { fp32, int8, ckpt, vocab };
}

function runLimitProcess(args: LimitArgs, name: string): LimitResult {
  const file = join(RESULTS, `${name}.args.json`);
  writeFileSync(file, JSON.stringify(args));
  const out = execFileSync(process.execPath, [join(ROOT, 'bench', 'limit.ts'), file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const lines = out.toString('utf8').trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as LimitResult;
}

class LoadGenerator {
  readonly #child: ChildProcess;
  readonly #ready: Promise<void>;
  constructor() {
    this.#child = fork(join(ROOT, 'bench', 'load.ts'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#ready = new Promise((resolve, reject) => {
      this.#child.once('message', () => resolve());
      this.#child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    });
  }
  async run(scenario: Scenario): Promise<ScenarioResult> {
    await this.#ready;
    return new Promise((resolve, reject) => {
      this.#child.once('message', (m: { type: 'result'; result: ScenarioResult } | { type: 'error'; error: string }) =>
        m.type === 'result' ? resolve(m.result) : reject(new Error(m.error)),
      );
      this.#child.send({ type: 'run', scenario });
    });
  }
  /**
   * Runs the load generator on the CPUs of `list` only (`taskset -a -p`, every thread; Linux), or on every CPU again
   * when `list` is undefined: the frontend phase keeps it off the CPUs the service was given when any are left.
   */
  pin(list: string | undefined): void {
    execFileSync('taskset', ['-a', '-p', '-c', list ?? allCpus, String(this.#child.pid)], { stdio: 'ignore' });
  }
  close(): void {
    this.#child.send({ type: 'exit' });
  }
}

interface ServiceFigure {
  name: string;
  kind: string;
  concurrency: number;
  rate?: number;
  throughput: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  latencyMs: LatencySummary;
  healthMs: LatencySummary;
  eventLoopDelayMs?: { p50: number; p90: number; p99: number; max: number };
  meanBatch?: { image?: number; text?: number };
  provider: string;
}

/** One loop-then-service pair of the `pairs` phase: images/s of each, and their ratio. */
interface ImagePair {
  loop: number;
  service: number;
  ratio: number;
}

interface ImagePairs {
  batch: number;
  concurrency: number;
  pairs: ImagePair[];
  medianRatio: number;
  minRatio: number;
  maxRatio: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function eventLoop(metricsText: string | undefined): ServiceFigure['eventLoopDelayMs'] {
  if (metricsText === undefined) return undefined;
  const v = (q: string): number =>
    round(Math.max(0, (metricValue(metricsText, `nodejs_eventloop_lag_${q}_seconds`) ?? Number.NaN) - EVENT_LOOP_RESOLUTION_S) * 1000, 2);
  return { p50: v('p50'), p90: v('p90'), p99: v('p99'), max: v('max') };
}

function batchMean(before: string, after: string | undefined, encoder: string): number | undefined {
  if (after === undefined) return undefined;
  const get = (t: string, n: string): number => metricValue(t, n, { encoder }) ?? 0;
  const count = get(after, 'unimed_batch_size_count') - get(before, 'unimed_batch_size_count');
  const sum = get(after, 'unimed_batch_size_sum') - get(before, 'unimed_batch_size_sum');
  return count > 0 ? round(sum / count, 2) : undefined;
}

async function scenario(
  load: LoadGenerator,
  service: RunningService,
  s: Omit<Scenario, 'baseUrl'>,
  provider: string,
): Promise<ServiceFigure> {
  const before = await service.metrics();
  const r = await load.run({ ...s, baseUrl: service.url });
  const fig: ServiceFigure = {
    name: r.name,
    kind: r.kind,
    concurrency: r.concurrency,
    ...(r.rate === undefined ? {} : { rate: round(r.rate, 2) }),
    throughput: round(r.throughput, 3),
    ok: r.ok,
    errors: r.errors,
    statuses: r.statuses,
    latencyMs: roundSummary(summarize(r.latenciesMs)),
    healthMs: roundSummary(summarize(r.healthMs)),
    ...(r.metricsEnd === undefined
      ? {}
      : {
          eventLoopDelayMs: eventLoop(r.metricsEnd),
          meanBatch: { image: batchMean(before, r.metricsEnd, 'image'), text: batchMean(before, r.metricsEnd, 'text') },
        }),
    provider,
  };
  log(
    `${fig.name}: ${fig.throughput}/s, p50 ${fig.latencyMs.p50} ms, p99 ${fig.latencyMs.p99} ms, /healthz p99 ${fig.healthMs.p99} ms, errors ${fig.errors} [${provider}]`,
  );
  return fig;
}

function roundSummary(s: LatencySummary): LatencySummary {
  return { n: s.n, mean: round(s.mean, 2), p50: round(s.p50, 2), p90: round(s.p90, 2), p99: round(s.p99, 2), max: round(s.max, 2) };
}

function seedPipeline(
  ckpt: string,
  vocab: string,
  image: string,
): Promise<{ throughput_per_s: number; calls: number; latencies_s: number[]; torch_threads: number; torch: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      PYTHON,
      [
        join(ROOT, 'bench', 'seed_pipeline.py'),
        '--checkpoint',
        ckpt,
        '--vocab',
        vocab,
        '--image',
        image,
        '--seconds',
        '20',
        '--max-calls',
        '10',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`seed pipeline exited with ${code}`));
      const lines = out.trim().split('\n');
      resolvePromise(
        JSON.parse(lines[lines.length - 1]!) as {
          throughput_per_s: number;
          calls: number;
          latencies_s: number[];
          torch_threads: number;
          torch: string;
        },
      );
    });
  });
}

function ortVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const timesAtStart = cpuTimes();
  const loadAtStart = loadavg()[0]!;
  mkdirSync(RESULTS, { recursive: true });
  // The frontend phase alone needs no full-size model (it writes its near-free one).
  const demoOnly = smoke || [...phases].every((p) => p === 'frontend');
  const models = demoOnly ? { fp32: join(ROOT, 'models', 'demo'), int8: '', ckpt: '', vocab: '' } : ensureModels();
  const jpeg = join(RESULTS, 'bench-512.jpg');
  await writeBenchJpeg(jpeg);
  const promptSetsFile = join(RESULTS, 'prompt_sets.bench.json');
  writeFileSync(promptSetsFile, JSON.stringify(BENCH_PROMPT_SET, null, 2));
  const prompts = await makePrompts(models.fp32, P.prompts);
  const manifest = JSON.parse(readFileSync(join(models.fp32, 'model.json'), 'utf8')) as {
    id: string;
    text: { context_length: number };
    architecture?: unknown;
  };

  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    logicalCpus: cpus().length,
    cpuQuota: threads,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${platform()} ${release()}`,
    node: process.version,
    onnxruntimeNode: ortVersion(),
    executionProvidersRequested: providers,
    env: Object.fromEntries(
      [
        'WORKERS_PER_ENCODER',
        'INTRA_OP_THREADS',
        'UV_THREADPOOL_SIZE',
        'MALLOC_ARENA_MAX',
        'IMAGE_MAX_BATCH_SIZE',
        'IMAGE_MAX_DELAY_MS',
        'TEXT_MAX_BATCH_SIZE',
        'TEXT_MAX_DELAY_MS',
        'ORT_SPINNING',
        'SHARP_CONCURRENCY',
      ]
        .filter((k) => process.env[k] !== undefined)
        .map((k) => [k, process.env[k]!]),
    ),
  };
  const results: Record<string, unknown> = {
    startedAt: new Date(started).toISOString(),
    smoke,
    model: { id: manifest.id, dir: models.fp32, architecture: manifest.architecture },
    machine,
  };
  const limitArgs = (modelDir: string, imageBatchSizes: number[]): LimitArgs => ({
    modelDir,
    providers,
    intraOpThreads: threads,
    spinning: process.env.LIMIT_SPINNING !== '0',
    denormalAsZero: process.env.LIMIT_DENORMAL_AS_ZERO === '1',
    imageBatchSizes,
    prompts: prompts.map((p) => p.ids),
    text256Batch: 8,
    textLongestBatch: 32,
    contextLength: manifest.text.context_length,
    minSeconds: P.limitSeconds,
    minRuns: 2,
  });

  let limit: LimitResult | undefined;
  if (phases.has('limit')) {
    log(`limit: plain onnxruntime-node loop, ${threads} intra-op threads, image batches ${P.imageBatches.join('/')}`);
    limit = runLimitProcess(limitArgs(models.fp32, P.imageBatches), 'limit');
    results.limit = limit;
    log(
      `limit: image ${round(limit.imageBest.itemsPerSecond, 2)}/s at batch ${limit.imageBest.batch} [${limit.provider.image}]; text padded to 256 ${round(limit.text256!.itemsPerSecond, 2)}/s, padded to longest ${round(limit.textLongest!.itemsPerSecond, 2)}/s [${limit.provider.text}]`,
    );
  }
  let limitInt8: LimitResult | undefined;
  if (phases.has('int8') && models.int8 !== '') {
    limitInt8 = runLimitProcess(limitArgs(models.int8, P.imageBatches), 'limit-int8');
    results.limitInt8 = limitInt8;
    log(
      `limit int8: image ${round(limitInt8.imageBest.itemsPerSecond, 2)}/s at batch ${limitInt8.imageBest.batch}; text padded to longest ${round(limitInt8.textLongest!.itemsPerSecond, 2)}/s [${limitInt8.provider.image}]`,
    );
    results.int8Quantization = JSON.parse(readFileSync(join(models.int8, 'model.json'), 'utf8')) as {
      quantization?: unknown;
      golden?: unknown;
    };
  }
  let seed: Awaited<ReturnType<typeof seedPipeline>> | undefined;
  if (phases.has('seed') && models.ckpt !== '') {
    log('seed pipeline: PyTorch, PIL preprocessing, image + 6 labels padded to 256 per call');
    seed = await seedPipeline(models.ckpt, models.vocab, jpeg);
    results.seed = { ...seed, provider: 'pytorch-cpu' };
    log(
      `seed pipeline: ${round(seed.throughput_per_s, 3)} classify/s over ${seed.calls} calls [pytorch cpu, ${seed.torch_threads} threads]`,
    );
  }

  const load = new LoadGenerator();
  const service: ServiceFigure[] = [];
  try {
    if (phases.has('frontend')) {
      log(`frontend: CPU sets ${frontendCpus.join(' / ')} (${frontendCpus.map(cpuCount).join(' / ')} CPUs)`);
      const frontend = await runFrontend({
        root: ROOT,
        cache: CACHE,
        results: RESULTS,
        python: PYTHON,
        jpeg,
        smoke,
        cpuSets: frontendCpus,
        load,
        log,
      });
      results.frontend = frontend;
    }
    // `image16` alone: the one scenario the tuning runs compare (/embed/image at concurrency 16).
    if (phases.has('service') || phases.has('image16') || phases.has('pairs')) {
      const full = phases.has('service');
      log(`service: starting with ${manifest.id}`);
      const svc = await startService({
        root: ROOT,
        env: { MODEL_DIRS: models.fp32, PROMPT_SETS: promptSetsFile },
        logFile: join(RESULTS, 'service.log'),
        readyTimeoutMs: 600_000,
      });
      try {
        const provider = servedProvider(await svc.metrics());
        const common = { imageFile: jpeg, warmupMs: P.warmupMs, healthEveryMs: 100, scrapeMetrics: true };
        for (const c of full ? P.concurrency : phases.has('image16') ? [16] : []) {
          service.push(
            await scenario(
              load,
              svc,
              { ...common, name: `image c=${c}`, kind: 'image', concurrency: c, durationMs: c === 16 ? P.longMs : P.shortMs },
              provider,
            ),
          );
        }
        if (phases.has('pairs')) {
          const batch = limit?.imageBest.batch ?? P.imageBatches.at(-1)!;
          // A service no scenario has run yet is cold (onnxruntime's arenas grow with the first batches of 16, a
          // few seconds at full size): one discarded run at c=16 first, so the first pair measures what the others do.
          if (service.length === 0) {
            const warm = { ...common, name: 'pairs warm-up (discarded)', kind: 'image' as const, concurrency: 16, durationMs: P.pairMs };
            await scenario(load, svc, warm, provider);
          }
          const pairs: ImagePair[] = [];
          for (let i = 1; i <= P.pairs; i++) {
            // The loop runs while the service idles (its workers block, they do not spin) and then the reverse.
            const loop = runLimitProcess(
              { ...limitArgs(models.fp32, [batch]), imageOnly: true, minSeconds: P.pairLoopSeconds },
              `pair-${i}-loop`,
            ).imageBest.itemsPerSecond;
            const fig = await scenario(
              load,
              svc,
              { ...common, name: `pair ${i} image c=16`, kind: 'image', concurrency: 16, durationMs: P.pairMs },
              provider,
            );
            pairs.push({ loop: round(loop, 3), service: fig.throughput, ratio: round(fig.throughput / loop, 3) });
            log(`pair ${i}/${P.pairs}: loop ${round(loop, 2)}/s, service ${fig.throughput}/s, ratio ${round(fig.throughput / loop, 3)}`);
          }
          const ratios = pairs.map((p) => p.ratio);
          log(`pairs: median ratio ${round(median(ratios), 3)}, spread ${Math.min(...ratios)}-${Math.max(...ratios)}`);
          results.imagePairs = {
            batch,
            concurrency: 16,
            pairs,
            medianRatio: round(median(ratios), 3),
            minRatio: Math.min(...ratios),
            maxRatio: Math.max(...ratios),
          } satisfies ImagePairs;
        }
        if (full) {
          const max = Math.max(...service.map((f) => f.throughput));
          service.push(
            await scenario(
              load,
              svc,
              { ...common, name: 'image half-load', kind: 'image', concurrency: 0, rate: max / 2, durationMs: P.longMs },
              provider,
            ),
          );
          service.push(
            await scenario(
              load,
              svc,
              { ...common, name: 'text c=32', kind: 'text', concurrency: 32, prompts: prompts.map((p) => p.text), durationMs: P.shortMs },
              provider,
            ),
          );
          service.push(
            await scenario(
              load,
              svc,
              { ...common, name: 'classify c=16', kind: 'classify', concurrency: 16, promptSet: 'bench', durationMs: P.longMs },
              provider,
            ),
          );
        }
      } finally {
        await svc.stop();
      }
    }
    if (phases.has('int8') && models.int8 !== '') {
      log('service: int8 model');
      const svc = await startService({
        root: ROOT,
        env: { MODEL_DIRS: models.int8, PROMPT_SETS: promptSetsFile },
        logFile: join(RESULTS, 'service-int8.log'),
        readyTimeoutMs: 600_000,
      });
      try {
        const provider = servedProvider(await svc.metrics());
        service.push(
          await scenario(
            load,
            svc,
            {
              name: 'int8 image c=16',
              kind: 'image',
              imageFile: jpeg,
              concurrency: 16,
              warmupMs: P.warmupMs,
              durationMs: P.shortMs,
              healthEveryMs: 100,
              scrapeMetrics: true,
            },
            provider,
          ),
        );
      } finally {
        await svc.stop();
      }
    }
    if (phases.has('rss')) {
      log('rss: demo model, /classify (prompt set "modality") at concurrency 16');
      const svc = await startService({
        root: ROOT,
        env: { MODEL_DIRS: join(ROOT, 'models', 'demo') },
        logFile: join(RESULTS, 'service-demo.log'),
        readyTimeoutMs: 120_000,
      });
      try {
        const provider = servedProvider(await svc.metrics());
        const base = {
          name: 'demo classify',
          kind: 'classify' as const,
          imageFile: jpeg,
          promptSet: 'modality',
          concurrency: 16,
          warmupMs: 0,
          durationMs: 3_600_000,
        };
        const rssStart = svc.rssBytes();
        const mapsStart = svc.memoryMaps();
        const first = await load.run({ ...base, baseUrl: svc.url, maxRequests: P.rss[0]! });
        const rss1 = svc.rssBytes();
        const maps1 = svc.memoryMaps();
        const second = await load.run({ ...base, baseUrl: svc.url, maxRequests: P.rss[1]! - P.rss[0]! });
        const rss2 = svc.rssBytes();
        const maps2 = svc.memoryMaps();
        results.rss = {
          provider,
          afterStartMiB: round(rssStart / 2 ** 20, 1),
          [`after${P.rss[0]}MiB`]: round(rss1 / 2 ** 20, 1),
          [`after${P.rss[1]}MiB`]: round(rss2 / 2 ** 20, 1),
          ratio: round(rss2 / rss1, 3),
          // Where the resident memory is, at start / after the first / after all requests (MiB).
          ...(mapsStart && maps1 && maps2
            ? { mapsMiB: { start: mapsStart, [`after${P.rss[0]}`]: maps1, [`after${P.rss[1]}`]: maps2 } }
            : {}),
          errors: first.errors + second.errors,
          throughput: round(second.throughput, 1),
          latencyMs: roundSummary(summarize(second.latenciesMs)),
        };
        log(
          `rss: ${round(rss1 / 2 ** 20, 1)} MiB after ${P.rss[0]}, ${round(rss2 / 2 ** 20, 1)} MiB after ${P.rss[1]} (x${round(rss2 / rss1, 3)}) [${provider}]`,
        );
      } finally {
        await svc.stop();
      }
    }
  } finally {
    load.close();
  }
  results.service = service;
  results.seconds = round((Date.now() - started) / 1000, 1);
  const timesAtEnd = cpuTimes();
  // Other load on the machine makes every figure lower: say how quiet it was.
  results.machineLoad = {
    loadAverage1mAtStart: round(loadAtStart, 2),
    stealPercent:
      timesAtStart && timesAtEnd
        ? round((100 * (timesAtEnd.steal - timesAtStart.steal)) / Math.max(1, timesAtEnd.total - timesAtStart.total), 2)
        : null,
  };

  const ratios = computeRatios(
    limit,
    seed,
    service,
    results.rss as { ratio: number } | undefined,
    limitInt8,
    results.imagePairs as ImagePairs | undefined,
    results.frontend as FrontendResult | undefined,
  );
  results.ratios = ratios;
  writeFileSync(join(RESULTS, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeCharts(service, limit);
  const md = summaryMarkdown(results, ratios, limit, limitInt8, seed, service);
  writeFileSync(join(RESULTS, 'summary.md'), md);
  if (publish) {
    mkdirSync(join(ROOT, 'bench', 'charts'), { recursive: true });
    const published = join(ROOT, 'bench', 'RESULTS.md');
    // The sections other benches write (<!-- name:start --> ... <!-- name:end -->: hostile, trust, gpu, ...) are kept.
    const kept = existsSync(published)
      ? [...readFileSync(published, 'utf8').matchAll(/<!-- (\w+):start -->[\s\S]*?<!-- \1:end -->\n/g)]
      : [];
    const body = md.replaceAll('](./', '](./charts/').replaceAll('](../TUNING.md)', '](./TUNING.md)');
    writeFileSync(published, [body, ...kept.map((m) => m[0])].join('\n'));
    for (const f of ['throughput.svg', 'latency.svg'])
      if (existsSync(join(RESULTS, f))) copyFileSync(join(RESULTS, f), join(ROOT, 'bench', 'charts', f));
  }
  process.stdout.write('\nTarget ratios (measured in this run):\n');
  for (const r of ratios)
    process.stdout.write(
      `  ${r.met === undefined ? '  -  ' : r.met ? ' met ' : ' MISS'}  ${r.name}: ${r.value === undefined ? 'not measured' : r.value} (target ${r.target})\n`,
    );
  process.stdout.write(`\nresults: ${join(RESULTS, 'results.json')}, ${join(RESULTS, 'summary.md')} (${String(results.seconds)} s)\n`);
}

interface Ratio {
  name: string;
  target: string;
  value?: number;
  met?: boolean;
  detail: string;
}

function computeRatios(
  limit: LimitResult | undefined,
  seed: { throughput_per_s: number } | undefined,
  service: ServiceFigure[],
  rss: { ratio: number } | undefined,
  int8: LimitResult | undefined,
  pairs: ImagePairs | undefined,
  frontend?: FrontendResult,
): Ratio[] {
  const find = (name: string): ServiceFigure | undefined => service.find((f) => f.name === name);
  const out: Ratio[] = [];
  const ratio = (
    name: string,
    target: string,
    num: number | undefined,
    den: number | undefined,
    ok: (v: number) => boolean,
    detail: string,
  ): void => {
    const value = num !== undefined && den !== undefined && den > 0 ? round(num / den, 3) : undefined;
    out.push({ name, target, detail, ...(value === undefined ? {} : { value, met: ok(value) }) });
  };
  const img16 = find('image c=16');
  const text = find('text c=32');
  const cls = find('classify c=16');
  const half = find('image half-load');
  const full = service
    .filter((f) => f.kind === 'image' && !f.name.startsWith('int8'))
    .reduce<ServiceFigure | undefined>((a, f) => (a === undefined || f.concurrency > a.concurrency ? f : a), undefined);
  ratio(
    '/embed/image c=16 / plain-loop image limit',
    '>= 0.9',
    img16?.throughput,
    limit?.imageBest.itemsPerSecond,
    (v) => v >= 0.9,
    'service images/s over the best batch size of the plain loop',
  );
  out.push({
    name: '/embed/image c=16 / plain-loop image limit, interleaved pairs (median)',
    target: '>= 0.95',
    detail:
      pairs === undefined
        ? 'phase pairs not run'
        : `${pairs.pairs.length} pairs (loop, service, ...), loop at batch ${pairs.batch}; spread ${pairs.minRatio}-${pairs.maxRatio}`,
    ...(pairs === undefined ? {} : { value: pairs.medianRatio, met: pairs.medianRatio >= 0.95 }),
  });
  const widest = frontend?.rows.reduce((a, r) => (r.cpuCount > a.cpuCount ? r : a));
  out.push({
    name: '/embed/image, near-free model / plain decode-and-resize loop, interleaved (median)',
    target: '>= 0.8',
    detail:
      widest === undefined
        ? 'phase frontend not run'
        : `CPUs ${widest.cpus}, service at c=${widest.best}; spread ${widest.minRatio}-${widest.maxRatio}`,
    ...(widest === undefined ? {} : { value: widest.medianRatio, met: widest.medianRatio >= 0.8 }),
  });
  ratio(
    '/embed/text c=32 / plain loop padded to 256',
    '>= 8',
    text?.throughput,
    limit?.text256?.itemsPerSecond,
    (v) => v >= 8,
    'distinct 8-24 token prompts',
  );
  ratio(
    '/classify c=16 / /embed/image c=16',
    '>= 0.9',
    cls?.throughput,
    img16?.throughput,
    (v) => v >= 0.9,
    'prompt set embedded at start',
  );
  ratio(
    '/classify c=16 / seed pipeline',
    '>= 10',
    cls?.throughput,
    seed?.throughput_per_s,
    (v) => v >= 10,
    'seed: PyTorch, PIL, image + 6 labels padded to 256 per call',
  );
  ratio(
    'p99 / p50 at half of max throughput',
    '<= 3',
    half?.latencyMs.p99,
    half?.latencyMs.p50,
    (v) => v <= 3,
    'open loop at half the best /embed/image throughput',
  );
  const h = full?.healthMs.p99;
  out.push({
    name: `/healthz p99 under full load (${full?.name ?? '-'}), ms`,
    target: '< 50',
    detail: 'probe every 100 ms',
    ...(h === undefined || Number.isNaN(h) ? {} : { value: h, met: h < 50 }),
  });
  out.push({
    name: 'RSS after 10k / after 1k /classify (demo)',
    target: '<= 1.1',
    detail: 'VmRSS of the service process',
    ...(rss === undefined ? {} : { value: rss.ratio, met: rss.ratio <= 1.1 }),
  });
  if (int8 !== undefined && limit !== undefined) {
    ratio(
      'int8 / fp32 image limit (speed-up)',
      'report',
      int8.imageBest.itemsPerSecond,
      limit.imageBest.itemsPerSecond,
      () => true,
      'plain loop, best batch',
    );
    ratio(
      'int8 / fp32 text limit, padded to longest (speed-up)',
      'report',
      int8.textLongest?.itemsPerSecond,
      limit.textLongest?.itemsPerSecond,
      () => true,
      'plain loop, batch 32',
    );
    const i16 = find('int8 image c=16');
    ratio('int8 / fp32 /embed/image c=16 (speed-up)', 'report', i16?.throughput, img16?.throughput, () => true, 'through the service');
  }
  return out;
}

function writeCharts(service: ServiceFigure[], limit: LimitResult | undefined): void {
  const img = service.filter((f) => f.kind === 'image' && f.rate === undefined && !f.name.startsWith('int8'));
  if (img.length > 0) {
    const series = [{ label: `/embed/image [${img[0]!.provider}]`, points: img.map((f) => ({ x: f.concurrency, y: f.throughput })) }];
    const refs = limit ? [{ label: `plain loop, batch ${limit.imageBest.batch}`, y: limit.imageBest.itemsPerSecond }] : [];
    for (const f of service.filter((s) => s.rate === undefined && s.kind !== 'image'))
      series.push({ label: `${f.name.split(' ')[0]} [${f.provider}]`, points: [{ x: f.concurrency, y: f.throughput }] });
    writeFileSync(join(RESULTS, 'throughput.svg'), throughputChart('Throughput against concurrency', series, refs));
  }
  if (service.length > 0) {
    writeFileSync(
      join(RESULTS, 'latency.svg'),
      latencyChart(
        'Latency percentiles per scenario',
        service.map((f) => ({
          label: f.name.replace('image ', 'img ').replace('classify', 'cls'),
          p50: f.latencyMs.p50,
          p90: f.latencyMs.p90,
          p99: f.latencyMs.p99,
        })),
      ),
    );
  }
}

function summaryMarkdown(
  results: Record<string, unknown>,
  ratios: Ratio[],
  limit: LimitResult | undefined,
  int8: LimitResult | undefined,
  seed: { throughput_per_s: number; calls: number; torch_threads: number } | undefined,
  service: ServiceFigure[],
): string {
  const m = results.machine as Record<string, unknown>;
  const lines: string[] = [];
  lines.push('# Benchmark results', '');
  lines.push(
    `Run ${String(results.startedAt)} (${String(results.seconds)} s), model \`${(results.model as { id: string }).id}\`${smoke ? ' (smoke run: demo model, seconds per phase; not a measurement)' : ' (UniMed-CLIP ViT-B/16 + BiomedBERT-base architecture, random weights)'}.`,
  );
  lines.push(
    `Machine: ${String(m.cpu)}, ${String(m.logicalCpus)} logical CPUs (quota ${String(m.cpuQuota)}), ${String(m.memoryGiB)} GiB, ${String(m.os)}; Node ${String(m.node)}, onnxruntime-node ${String(m.onnxruntimeNode)}; EXECUTION_PROVIDERS=${(m.executionProvidersRequested as string[]).join(',')}.`,
  );
  const load = results.machineLoad as { loadAverage1mAtStart: number; stealPercent: number | null };
  lines.push(
    `Machine load: 1-minute load average ${load.loadAverage1mAtStart} at start; CPU steal ${load.stealPercent ?? 'n/a'} % during the run.`,
  );
  const env = m.env as Record<string, string>;
  if (Object.keys(env).length > 0)
    lines.push(
      `Environment: ${Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}.`,
    );
  lines.push(
    '',
    'Command: `npm run bench` (`node bench/run.ts`).',
    '',
    '## Targets',
    '',
    '| ratio | target | measured | met |',
    '| --- | --- | --- | --- |',
  );
  for (const r of ratios)
    lines.push(
      `| ${r.name} | ${r.target} | ${r.value ?? 'not measured'} | ${r.met === undefined ? '-' : r.target === 'report' ? '-' : r.met ? 'yes' : '**no**'} |`,
    );
  lines.push(
    '',
    '## The limit: plain onnxruntime-node loop over ready tensors',
    '',
    '| encoder | input | batch | items/s | provider |',
    '| --- | --- | --- | --- | --- |',
  );
  for (const [tag, l] of [
    ['fp32', limit],
    ['int8', int8],
  ] as const) {
    if (l === undefined) continue;
    for (const t of l.image) lines.push(`| image ${tag} | 3x224x224 | ${t.batch} | ${round(t.itemsPerSecond, 2)} | ${l.provider.image} |`);
    if (l.text256)
      lines.push(
        `| text ${tag} | 8-24 tokens padded to 256 | ${l.text256.batch} | ${round(l.text256.itemsPerSecond, 2)} | ${l.provider.text} |`,
      );
    if (l.textLongest)
      lines.push(
        `| text ${tag} | 8-24 tokens padded to the batch's longest (mean ${round(l.textLongest.seq ?? 0, 1)}) | ${l.textLongest.batch} | ${round(l.textLongest.itemsPerSecond, 2)} | ${l.provider.text} |`,
      );
  }
  const pairs = results.imagePairs as ImagePairs | undefined;
  if (pairs) {
    lines.push(
      '',
      '## The service against the plain loop, interleaved',
      '',
      `Loop (batch ${pairs.batch}, image encoder only), then /embed/image at concurrency ${pairs.concurrency}, ${pairs.pairs.length} times in a row. Median ratio **${pairs.medianRatio}**, spread ${pairs.minRatio}-${pairs.maxRatio}.`,
      '',
      '| pair | loop images/s | service images/s | ratio |',
      '| --- | --- | --- | --- |',
      ...pairs.pairs.map((p, i) => `| ${i + 1} | ${p.loop} | ${p.service} | ${p.ratio} |`),
    );
  }
  if (results.frontend !== undefined) lines.push(...frontendMarkdown(results.frontend as FrontendResult));
  if (seed) {
    lines.push(
      '',
      '## The seed pipeline (PyTorch, per /classify call)',
      '',
      `${round(seed.throughput_per_s, 3)} calls/s (${round(1000 / seed.throughput_per_s, 0)} ms per call) over ${seed.calls} calls; torch CPU, ${seed.torch_threads} threads. Provider: pytorch-cpu.`,
    );
  }
  if (service.length > 0) {
    lines.push(
      '',
      '## The service',
      '',
      '| scenario | req/s | p50 ms | p90 ms | p99 ms | /healthz p99 ms | event-loop delay p99 / max ms | mean batch (image/text) | errors | provider |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const f of service) {
      const el = f.eventLoopDelayMs ? `${f.eventLoopDelayMs.p99} / ${f.eventLoopDelayMs.max}` : '-';
      const mb = f.meanBatch ? `${f.meanBatch.image ?? '-'} / ${f.meanBatch.text ?? '-'}` : '-';
      lines.push(
        `| ${f.name}${f.rate ? ` (${f.rate}/s open loop)` : ''} | ${f.throughput} | ${f.latencyMs.p50} | ${f.latencyMs.p90} | ${f.latencyMs.p99} | ${f.healthMs.p99} | ${el} | ${mb} | ${f.errors} | ${f.provider} |`,
      );
    }
    lines.push('', 'Event-loop delay: prom-client `nodejs_eventloop_lag_*` over the measured window, minus its 10 ms sampling interval.');
    lines.push('', '![throughput](./throughput.svg)', '', '![latency](./latency.svg)');
  }
  const rss = results.rss as Record<string, unknown> | undefined;
  if (rss) {
    lines.push(
      '',
      '## Memory (demo model, /classify at concurrency 16)',
      '',
      `${Object.entries(rss)
        .filter(([k, v]) => k.endsWith('MiB') && typeof v === 'number')
        .map(([k, v]) => `${k.replace('MiB', '')}: ${String(v as number)} MiB`)
        .join(', ')}; ratio ${String(rss.ratio)}; errors ${String(rss.errors)}; provider ${String(rss.provider)}.`,
    );
    const maps = rss.mapsMiB as Record<string, MemoryMaps> | undefined;
    if (maps) {
      lines.push(
        '',
        'Resident memory by mapping (`/proc/PID/smaps`), MiB:',
        '',
        '| when | main malloc arena `[heap]` | anonymous (V8 heaps, thread arenas) | files |',
        '| --- | --- | --- | --- |',
      );
      for (const [when, m] of Object.entries(maps)) lines.push(`| ${when} | ${m.mainArena} | ${m.anonymous} | ${m.files} |`);
    }
  }
  const q = results.int8Quantization as
    { quantization?: { golden_cosine_to_fp32?: Record<string, number> }; golden?: Record<string, unknown> } | undefined;
  if (q?.quantization?.golden_cosine_to_fp32) {
    lines.push(
      '',
      '## int8 variant',
      '',
      `Golden cosine to fp32 (reference evaluator): ${Object.entries(q.quantization.golden_cosine_to_fp32)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}. Tolerances in its model.json: ${JSON.stringify(q.golden)}.`,
    );
  }
  lines.push(
    '',
    'How the defaults were chosen (tuning runs, the memory investigation, int8 on the demo model): [TUNING.md](../TUNING.md).',
  );
  return `${lines.join('\n')}\n`;
}

await main();
