/**
 * Phase `frontend` of `npm run bench` (issue 26, the front end's own limit): the service with a near-free model
 * (bench/near-free-model.ts) against a plain decode-and-resize loop over the same JPEG (bench/frontend-loop.ts),
 * for each CPU set given (`taskset -c`: the service and the loop alike, so the service sizes its threads for
 * them). Per set: /embed/image images/s over a concurrency sweep; the loop and the service at the sweep's best
 * concurrency interleaved for a number of pairs (median ratio and spread); /embed/text with cached texts
 * (the same few texts round and round) at concurrency 1 and 16: the per-request overhead.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus as machineCpus } from 'node:os';
import { join } from 'node:path';
import type { FrontendLoopArgs, FrontendLoopResult } from './frontend-loop.ts';
import type { Scenario, ScenarioResult } from './load.ts';
import { ensureNearFreeModel } from './near-free-model.ts';
import { metricValue, servedProvider, startService } from './service.ts';
import { round, summarize } from './stats.ts';

export interface FrontendOptions {
  root: string;
  cache: string;
  results: string;
  python: string;
  jpeg: string;
  smoke: boolean;
  /** taskset CPU lists, one scaling row each ("0", "0,1", "0-15"). */
  cpuSets: string[];
  load: { run(s: Scenario): Promise<ScenarioResult>; pin(cpus: string | undefined): void };
  log: (message: string) => void;
}

interface Point {
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
  eventLoopP99?: number;
  /** CPU milliseconds per request (warm-up included) by kind of thread, and of the whole process. */
  cpuMsPerRequest?: ThreadCpu;
  errors: number;
}

export interface FrontendRow {
  cpus: string;
  cpuCount: number;
  /** CPUs the load generator ran on: the ones the service was not given, or 'shared' when it was given them all. */
  clientCpus: string;
  provider: string;
  sweep: Point[];
  best: number;
  pairs: { loop: number; service: number; ratio: number; loopCpuMsPerImage: number }[];
  medianRatio: number;
  minRatio: number;
  maxRatio: number;
  loop: Omit<FrontendLoopResult, 'imagesPerSecond' | 'images' | 'seconds' | 'cpuMsPerImage'>;
  text: Point[];
}

export interface FrontendResult {
  model: string;
  rows: FrontendRow[];
}

/** The CPUs of a taskset list ("0-3,6"). */
export function cpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [a, b] = part.split('-').map(Number);
    return Array.from({ length: b === undefined ? 1 : b - a! + 1 }, (_, i) => a! + i);
  });
}

/** Number of CPUs in a taskset list. */
export function cpuCount(list: string): number {
  return cpuList(list).length;
}

/** The machine's CPUs that are not in `list`, as a taskset list, or undefined when none is left. */
function otherCpus(list: string): string | undefined {
  const given = new Set(cpuList(list));
  const rest = Array.from({ length: machineCpus().length }, (_, i) => i).filter((c) => !given.has(c));
  return rest.length === 0 ? undefined : rest.join(',');
}

/** The service's threads by name (Linux `comm`): the HTTP thread, libuv's pool, libvips' own workers, V8's helpers (GC). */
const THREADS = { http: 'MAIN', libuv: 'libuv-worker', libvips: 'libvips worker', v8: 'V8Worker', workers: 'WorkerThread' } as const;
export type ThreadCpu = Record<keyof typeof THREADS | 'total', number>;

/** CPU time (ms) of the service's threads by kind, from /proc (Linux; undefined elsewhere). */
function threadCpuMs(pid: number): ThreadCpu | undefined {
  try {
    const out: ThreadCpu = { http: 0, libuv: 0, libvips: 0, v8: 0, workers: 0, total: 0 };
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, fields 14 and 15 of stat (11 and 12 after the command), in clock ticks (100 per second).
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      const name = tid === String(pid) ? 'MAIN' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const kind = (Object.keys(THREADS) as (keyof typeof THREADS)[]).find((k) => THREADS[k] === name);
      if (kind !== undefined) out[kind] += ms;
    }
    // The whole process from its own stat: it keeps the time of threads that have ended (summing the live threads
    // would not, and a thread ending between two samples made the total go down).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.total = (Number(fields[11]) + Number(fields[12])) * 10;
    return out;
  } catch {
    return undefined;
  }
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function loop(o: FrontendOptions, cpus: string, args: FrontendLoopArgs, name: string): FrontendLoopResult {
  const file = join(o.results, `${name}.args.json`);
  writeFileSync(file, JSON.stringify(args));
  const threads = Math.max(4, cpuCount(cpus));
  const out = execFileSync('taskset', ['-c', cpus, process.execPath, join(o.root, 'bench', 'frontend-loop.ts'), file], {
    cwd: o.root,
    env: { ...process.env, UV_THREADPOOL_SIZE: String(threads) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const result = JSON.parse(out.toString('utf8').trim().split('\n').at(-1)!) as FrontendLoopResult;
  if (!result.sameTensorAsService) throw new Error('the plain loop does not make the tensor the service makes');
  return result;
}

export async function runFrontend(o: FrontendOptions): Promise<FrontendResult> {
  const dir = await ensureNearFreeModel(o.root, join(o.cache, 'near-free'), o.python);
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { id: string; image: FrontendLoopArgs['spec'] };
  const spec = { size: manifest.image.size, mean: manifest.image.mean, std: manifest.image.std };
  const P = o.smoke
    ? { sweep: [1, 16], ms: 1_500, warmupMs: 500, pairs: 3, loopSeconds: 1, prompts: 8 }
    : { sweep: [1, 4, 16, 64], ms: 10_000, warmupMs: 2_000, pairs: 5, loopSeconds: 8, prompts: 8 };
  const texts = Array.from({ length: P.prompts }, (_, i) => `a chest x-ray number ${i} with no acute findings`);
  const rows: FrontendRow[] = [];
  for (const cpus of o.cpuSets) {
    // The load generator keeps off the service's CPUs while any are left, so that the service has them to itself
    // as the plain loop has; with every CPU given to the service the two share them (the table says which).
    const clientCpus = otherCpus(cpus);
    o.load.pin(clientCpus);
    o.log(`frontend: near-free model on CPUs ${cpus}, load generator on ${clientCpus ?? 'the same CPUs'}`);
    const svc = await startService({
      root: o.root,
      env: { MODEL_DIRS: dir },
      logFile: join(o.results, `service-frontend-${cpus.replaceAll(',', '_')}.log`),
      readyTimeoutMs: 120_000,
      cpus,
    });
    try {
      const provider = servedProvider(await svc.metrics());
      const measure = async (s: Omit<Scenario, 'baseUrl' | 'warmupMs' | 'durationMs' | 'scrapeMetrics'>): Promise<Point> => {
        const cpuBefore = threadCpuMs(svc.pid);
        const r = await o.load.run({ ...s, baseUrl: svc.url, warmupMs: P.warmupMs, durationMs: P.ms, scrapeMetrics: true });
        const cpuAfter = threadCpuMs(svc.pid);
        const per = (k: keyof ThreadCpu): number => round((cpuAfter![k] - cpuBefore![k]) / Math.max(1, r.totalRequests), 2);
        const lat = summarize(r.latenciesMs);
        const lag = r.metricsEnd === undefined ? undefined : metricValue(r.metricsEnd, 'nodejs_eventloop_lag_p99_seconds');
        const point: Point = {
          concurrency: s.concurrency,
          perSecond: round(r.throughput, 1),
          p50: round(lat.p50, 2),
          p99: round(lat.p99, 2),
          // prom-client samples with a 10 ms timer, included in its figures.
          ...(lag === undefined ? {} : { eventLoopP99: round(Math.max(0, lag - 0.01) * 1000, 2) }),
          ...(cpuBefore && cpuAfter
            ? { cpuMsPerRequest: Object.fromEntries(Object.keys(cpuAfter).map((k) => [k, per(k as keyof ThreadCpu)])) as ThreadCpu }
            : {}),
          errors: r.errors,
        };
        const cpu =
          point.cpuMsPerRequest === undefined
            ? ''
            : `, CPU ms/request HTTP thread ${point.cpuMsPerRequest.http} libuv ${point.cpuMsPerRequest.libuv} all ${point.cpuMsPerRequest.total}`;
        o.log(`  ${s.name}: ${point.perSecond}/s, p50 ${point.p50} ms, p99 ${point.p99} ms${cpu}, errors ${point.errors}`);
        return point;
      };
      const sweep: Point[] = [];
      for (const c of P.sweep) sweep.push(await measure({ name: `image c=${c}`, kind: 'image', imageFile: o.jpeg, concurrency: c }));
      const best = sweep.reduce((a, b) => (b.perSecond > a.perSecond ? b : a)).concurrency;
      const pairs: FrontendRow['pairs'] = [];
      let loopInfo: FrontendRow['loop'] | undefined;
      for (let i = 1; i <= P.pairs; i++) {
        // The loop runs while the service idles, then the service: drift of the machine weighs on both alike.
        const l = loop(o, cpus, { jpeg: o.jpeg, spec, seconds: P.loopSeconds }, `frontend-loop-${cpus.replaceAll(',', '_')}-${i}`);
        loopInfo = { inFlight: l.inFlight, threadpool: l.threadpool, cpus: l.cpus, sameTensorAsService: l.sameTensorAsService };
        const s = await measure({ name: `pair ${i} image c=${best}`, kind: 'image', imageFile: o.jpeg, concurrency: best });
        pairs.push({
          loop: round(l.imagesPerSecond, 1),
          service: s.perSecond,
          ratio: round(s.perSecond / l.imagesPerSecond, 3),
          loopCpuMsPerImage: round(l.cpuMsPerImage, 3),
        });
        o.log(`  pair ${i}: loop ${round(l.imagesPerSecond, 1)}/s, service ${s.perSecond}/s`);
      }
      const text: Point[] = [];
      for (const c of [1, 16])
        text.push(await measure({ name: `text cached c=${c}`, kind: 'text', prompts: texts, repeatPrompts: true, concurrency: c }));
      const ratios = pairs.map((p) => p.ratio);
      rows.push({
        cpus,
        cpuCount: cpuCount(cpus),
        clientCpus: clientCpus ?? 'shared',
        provider,
        sweep,
        best,
        pairs,
        medianRatio: round(median(ratios), 3),
        minRatio: Math.min(...ratios),
        maxRatio: Math.max(...ratios),
        loop: loopInfo!,
        text,
      });
      o.log(`frontend CPUs ${cpus}: median service/loop ${round(median(ratios), 3)} (${Math.min(...ratios)}-${Math.max(...ratios)})`);
    } finally {
      await svc.stop();
      o.load.pin(undefined);
    }
  }
  return { model: manifest.id, rows };
}

/** The summary's section. */
export function frontendMarkdown(r: FrontendResult): string[] {
  const lines = [
    '',
    "## The front end's own limit (near-free model)",
    '',
    `Model \`${r.model}\` (real shapes, almost no compute). The plain loop decodes the same 512 x 512 JPEG and makes the same tensor with sharp on every CPU of the set (bit-identical to the service's; libuv pool = max(4, CPUs), twice that many in flight). Target: service >= 0.8 x loop.`,
    '',
    '| CPUs (load generator on) | loop images/s (median) | /embed/image images/s at c (sweep) | service / loop, median (spread) | text cached c=1 p50 / p99 ms | c=16 req/s, p50 / p99 ms | event-loop p99 ms (image, best c) | CPU ms per image, service at best c: HTTP thread / libuv / libvips / V8 helpers (GC) / all; loop: all |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of r.rows) {
    const [t1, t16] = row.text;
    const at = row.sweep.find((p) => p.concurrency === row.best);
    lines.push(
      `| ${row.cpus} (${row.cpuCount}; client ${row.clientCpus}) | ${median(row.pairs.map((p) => p.loop))} | ${row.sweep.map((p) => `${p.perSecond} @${p.concurrency}`).join(', ')} | **${row.medianRatio}** (${row.minRatio}-${row.maxRatio}) | ${t1?.p50} / ${t1?.p99} | ${t16?.perSecond}, ${t16?.p50} / ${t16?.p99} | ${at?.eventLoopP99 ?? '-'} | ${at?.cpuMsPerRequest === undefined ? '-' : (['http', 'libuv', 'libvips', 'v8', 'total'] as const).map((k) => at.cpuMsPerRequest![k]).join(' / ')}; ${median(row.pairs.map((p) => p.loopCpuMsPerImage))} |`,
    );
  }
  return lines;
}
