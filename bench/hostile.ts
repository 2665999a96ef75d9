/**
 * `npm run bench:hostile`: legitimate traffic at half the measured capacity while hostile requests of every
 * class arrive at one per second each (issue 11). Writes bench/results/hostile.{json,md}; --publish also puts the
 * table in bench/RESULTS.md (between the hostile markers).
 *
 *   node bench/hostile.ts [--smoke] [--model=DIR] [--seconds=60] [--classes=WORD,...] [--publish]
 *   node bench/hostile.ts --alone [--seconds=8] [--model=DIR] [--classes=WORD,...]
 *
 * --smoke: a few seconds per phase and small decode bombs (checks the machinery, not the service).
 * --alone: no legitimate traffic; each hostile class by itself, one request per second for --seconds (default 8),
 *   and the event-loop delay (p99, max) it caused: which class blocks the HTTP thread, if any. Writes
 *   bench/results/hostile-alone.{json,md}.
 * --classes: only the hostile classes whose name contains one of these words (e.g. --classes=png,oversized), to
 *   find which of them costs what; the published table is always of every class.
 * --model: the model directory to serve (default models/demo; bench/.cache/vit-b16 after `npm run bench`).
 * The service inherits this process's environment (MEMORY_BUDGET_BYTES, MAX_INFLIGHT_REQUESTS, ...).
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { imageDicom } from '../test/fixtures/dicom/writer.ts';
import { BENCH_PROMPT_SET, writeBenchJpeg } from './inputs.ts';
import type { Scenario, ScenarioResult } from './load.ts';
import { metricValue, startService } from './service.ts';
import type { RunningService } from './service.ts';
import { prng, round, summarize } from './stats.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'bench', 'results');
const MIB = 1024 * 1024;
/** prom-client samples event-loop delay with a 10 ms timer; its histogram includes that interval. */
const EVENT_LOOP_RESOLUTION_S = 0.01;

const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const option = (name: string): string | undefined => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const modelDir = resolve(ROOT, option('model') ?? 'models/demo');
const P = smoke
  ? { capacityMs: 2_000, baselineMs: 3_000, hostileMs: Number(option('seconds') ?? 5) * 1000, warmupMs: 500, bomb: 1024 }
  : { capacityMs: 10_000, baselineMs: 30_000, hostileMs: Number(option('seconds') ?? 60) * 1000, warmupMs: 3_000, bomb: 7900 };

function log(message: string): void {
  process.stderr.write(`[hostile ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** One forked load generator (bench/load.ts) per scenario, so their own work stays out of this process. */
function runForked(scenario: Scenario): Promise<ScenarioResult> {
  const child = fork(join(ROOT, 'bench', 'load.ts'), [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolvePromise, reject) => {
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.on('message', (m: { type: 'ready' } | { type: 'result'; result: ScenarioResult } | { type: 'error'; error: string }) => {
      if (m.type === 'ready') child.send({ type: 'run', scenario });
      else {
        child.send({ type: 'exit' });
        if (m.type === 'result') resolvePromise(m.result);
        else reject(new Error(m.error));
      }
    });
  });
}

/** A request written on a raw socket; resolves with the status (0: no answer) once answered, closed, or `until`. */
function rawRequest(
  base: URL,
  head: string,
  body: { bytes: Buffer } | { trickle: number; everyMs: number } | { declared: number; send: number },
  until: number,
): Promise<number> {
  return new Promise((done) => {
    const socket = net.connect({ host: base.hostname, port: Number(base.port) });
    let data = '';
    let settled = false;
    const finish = (status: number): void => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      clearTimeout(stop);
      socket.destroy();
      done(status);
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const match = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (match) finish(Number(match[1]));
    });
    socket.on('error', () => finish(0));
    socket.on('close', () => finish(0));
    const stop = setTimeout(() => finish(0), Math.max(0, until - performance.now()));
    let timer: NodeJS.Timeout | undefined;
    // The class names no host; the service answers only the names ALLOWED_HOSTS allows (else 421), so the one it listens on.
    socket.write(head.replace('\r\nHost: bench\r\n', `\r\nHost: ${base.host}\r\n`));
    if ('bytes' in body) socket.write(body.bytes);
    else if ('trickle' in body) timer = setInterval(() => socket.write(Buffer.alloc(body.trickle, 0x20)), body.everyMs);
    else socket.write(Buffer.alloc(body.send, 0x20));
  });
}

interface HostileClass {
  name: string;
  send(base: URL, until: number): Promise<number>;
}

function post(path: string, type: string, bytes: Buffer): HostileClass['send'] {
  const head = `POST ${path} HTTP/1.1\r\nHost: bench\r\nContent-Type: ${type}\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
  return (base, until) => rawRequest(base, head, { bytes }, until);
}

function multipart(files: Buffer[], type: string): { type: string; body: Buffer } {
  const boundary = 'hostilebench';
  const parts = files.flatMap((data, i) => [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="bomb${i}"\r\nContent-Type: ${type}\r\n\r\n`),
    data,
    Buffer.from('\r\n'),
  ]);
  return { type: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]) };
}

const classFilter = option('classes')?.split(',');
if (classFilter !== undefined && argv.includes('--publish')) throw new Error('--publish takes every hostile class; drop --classes');

/** The hostile classes this run sends: every one, or those --classes names. */
async function hostileClasses(smallPng: Buffer): Promise<HostileClass[]> {
  const all = await everyHostileClass(smallPng);
  if (classFilter === undefined) return all;
  const chosen = all.filter((c) => classFilter.some((word) => c.name.includes(word)));
  if (chosen.length === 0) throw new Error(`--classes=${classFilter.join(',')} names no hostile class`);
  return chosen;
}

/** Every hostile class of the issue, built once before the traffic starts. */
async function everyHostileClass(smallPng: Buffer): Promise<HostileClass[]> {
  const side = P.bomb;
  const blank = (channels: 1 | 2 | 3) => sharp(Buffer.alloc(side * side * channels), { raw: { width: side, height: side, channels } });
  const greyAlphaPng = await blank(2).png({ compressionLevel: 9 }).toBuffer();
  // Grey (one component): the cheapest JPEG bomb to send, 256:1 (sRGB 4:2:0 is 511:1, in 1.5 times the bytes).
  const jpeg = await blank(1).toColourspace('b-w').jpeg({ quality: 50 }).toBuffer();
  const tiff = await blank(3).tiff({ compression: 'deflate' }).toBuffer();
  const webp = await blank(3).webp({ lossless: true, effort: 0 }).toBuffer();
  const dicom = imageDicom({ rows: 65535, columns: 65535, frames: 1000, bitsAllocated: 16, pixels: new Uint8Array(64) });
  const b64 = smallPng.toString('base64');
  const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const pngs = multipart(
    Array.from({ length: 16 }, () => greyAlphaPng),
    'image/png',
  );
  log(
    `decode bombs: ${side}x${side}; grey+alpha PNG ${greyAlphaPng.length} B (x16 in one body), JPEG ${jpeg.length} B, TIFF ${tiff.length} B, WebP ${webp.length} B`,
  );
  return [
    { name: 'png bombs (16 grey+alpha in one multipart body)', send: post('/embed/image', pngs.type, pngs.body) },
    { name: 'jpeg bomb (grey)', send: post('/embed/image', 'image/jpeg', jpeg) },
    { name: 'tiff bomb', send: post('/embed/image', 'image/tiff', tiff) },
    { name: 'webp bomb', send: post('/embed/image', 'image/webp', webp) },
    { name: 'dicom 65535 x 65535 x 1000 frames', send: post('/embed/image', 'application/dicom', dicom) },
    {
      name: 'template flood (10,000 templates)',
      send: post(
        '/classify',
        'application/json',
        json({ image: b64, labels: ['a', 'b'], templates: Array.from({ length: 10_000 }, (_, i) => `t${i} {}`) }),
      ),
    },
    {
      name: 'label flood (20,000 labels)',
      send: post('/classify', 'application/json', json({ image: b64, labels: Array.from({ length: 20_000 }, (_, i) => `label ${i}`) })),
    },
    { name: '100 images', send: post('/embed/image', 'application/json', json({ images: Array.from({ length: 100 }, () => b64) })) },
    {
      name: '1000 prompts (100 labels x 10 templates)',
      send: post(
        '/classify',
        'application/json',
        json({
          image: b64,
          labels: Array.from({ length: 100 }, (_, i) => `finding ${i}`),
          templates: Array.from({ length: 10 }, (_, i) => `view ${i} of {}`),
        }),
      ),
    },
    {
      name: 'trickled body (64 B every 500 ms of a declared 1 MiB)',
      send: (base, until) =>
        rawRequest(
          base,
          `POST /embed/image HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\nContent-Length: ${MIB}\r\n\r\n`,
          { trickle: 64, everyMs: 500 },
          until,
        ),
    },
    {
      name: 'oversized body (declared 100 MiB)',
      send: (base, until) =>
        rawRequest(
          base,
          `POST /embed/image HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\nContent-Length: ${100 * MIB}\r\n\r\n`,
          { declared: 100 * MIB, send: 2 * MIB },
          until,
        ),
    },
  ];
}

/** Each class at one request per second until `end`; statuses counted (0: no answer before the end). */
async function runHostile(classes: HostileClass[], base: URL, end: number): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  await Promise.all(
    classes.map(async (c) => {
      const counts: Record<string, number> = (out[c.name] = {});
      const pending: Promise<void>[] = [];
      for (let next = performance.now(); next < end; next += 1000) {
        await sleep(Math.max(0, next - performance.now()));
        pending.push(c.send(base, end + 2_000).then((status) => void (counts[String(status)] = (counts[String(status)] ?? 0) + 1)));
      }
      await Promise.all(pending);
    }),
  );
  return out;
}

/** The sum of every series of a counter or gauge in a Prometheus text exposition. */
function sumOf(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m?.[1] === name) sum += Number(m[3]);
  }
  return sum;
}

type Kind = 'image' | 'text' | 'classify';
const KINDS: Kind[] = ['image', 'text', 'classify'];

function prompts(count: number, seed: number): string[] {
  const words = 'chest x-ray ct mri ultrasound lesion effusion nodule fracture normal lung liver brain kidney retina'.split(' ');
  const rand = prng(seed);
  return Array.from(
    { length: count },
    (_, i) => `${words[Math.floor(rand() * words.length)]!} ${words[Math.floor(rand() * words.length)]!} case ${i}`,
  );
}

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  if (!existsSync(join(modelDir, 'model.json'))) throw new Error(`${modelDir} holds no model.json`);
  const imageFile = join(RESULTS, 'bench-512.jpg');
  await writeBenchJpeg(imageFile);
  const promptSets = join(RESULTS, 'prompt_sets.hostile.json');
  writeFileSync(promptSets, JSON.stringify(BENCH_PROMPT_SET));
  const service: RunningService = await startService({
    root: ROOT,
    env: { MODEL_DIRS: modelDir, PROMPT_SETS: promptSets, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    logFile: join(RESULTS, 'service-hostile.log'),
    readyTimeoutMs: 600_000,
  });
  const rssAtReady = service.rssBytes();
  const base = new URL(service.url);
  let seed = 1;
  const scenario = (kind: Kind, extra: Partial<Scenario>, durationMs: number): Scenario => ({
    name: kind,
    baseUrl: service.url,
    kind,
    imageFile,
    prompts: prompts(20_000, seed++),
    promptSet: 'bench',
    concurrency: 8,
    warmupMs: P.warmupMs,
    durationMs,
    ...extra,
  });
  try {
    log(`service ready (${modelDir}), RSS ${round(rssAtReady / MIB, 1)} MiB; capacity, ${P.capacityMs / 1000} s per kind`);
    const capacity: Record<Kind, number> = { image: 0, text: 0, classify: 0 };
    for (const kind of KINDS) capacity[kind] = (await runForked(scenario(kind, {}, P.capacityMs))).throughput;
    // Half of the capacity, shared by the three kinds (they compete for the same cores).
    const rates = Object.fromEntries(KINDS.map((k) => [k, Math.max(0.2, capacity[k] / 2 / KINDS.length)])) as Record<Kind, number>;
    log(`capacity ${JSON.stringify(capacity)}; legitimate rates ${JSON.stringify(rates)}; baseline ${P.baselineMs / 1000} s`);
    const legit = (durationMs: number, probe: boolean) =>
      Promise.all(
        KINDS.map((kind, i) =>
          runForked(
            scenario(kind, { rate: rates[kind], ...(probe && i === 0 ? { healthEveryMs: 100, scrapeMetrics: true } : {}) }, durationMs),
          ),
        ),
      );
    const baseline = await legit(P.baselineMs, false);

    const classes = await hostileClasses(readFileSync(join(modelDir, 'golden_resized.png')));
    const restartsBefore = sumOf(await service.metrics(), 'unimed_worker_restarts_total');
    log(`hostile phase: ${P.hostileMs / 1000} s, ${classes.length} classes at 1 req/s each`);
    let peakRss = service.rssBytes();
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, service.rssBytes())), 100);
    const hostileEnd = performance.now() + P.warmupMs + P.hostileMs;
    const [loaded, hostile] = await Promise.all([
      legit(P.hostileMs, true),
      sleep(P.warmupMs).then(() => runHostile(classes, base, hostileEnd)),
    ]);
    clearInterval(sampler);
    const metricsText = loaded[0]!.metricsEnd ?? (await service.metrics());
    const after = await service.metrics();
    const budget = metricValue(after, 'unimed_memory_budget_bytes') ?? Number(process.env.MEMORY_BUDGET_BYTES ?? Number.NaN);
    const restarts = sumOf(after, 'unimed_worker_restarts_total') - restartsBefore;
    const eventLoopP99 =
      Math.max(0, (metricValue(metricsText, 'nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) - EVENT_LOOP_RESOLUTION_S) * 1000;
    const health = summarize(loaded[0]!.healthMs);
    const allStatuses = [...loaded.map((r) => r.statuses), ...Object.values(hostile)];
    const count = (statuses: Record<string, number>[], codes: string[]): number =>
      statuses.reduce((s, m) => s + codes.reduce((t, c) => t + (m[c] ?? 0), 0), 0);
    const p99 = (r: ScenarioResult): number => summarize(r.latenciesMs).p99;
    const targets: { target: string; measured: number; limit: number; strict?: boolean }[] = [
      {
        target: 'peak RSS <= RSS at ready + MEMORY_BUDGET_BYTES + 256 MiB (MiB)',
        measured: round(peakRss / MIB, 1),
        limit: round((rssAtReady + budget) / MIB + 256, 1),
      },
      { target: '/healthz p99 < 100 ms', measured: round(health.p99, 1), limit: 100, strict: true },
      { target: 'event-loop delay p99 < 20 ms', measured: round(eventLoopP99, 1), limit: 20, strict: true },
      ...KINDS.map((k, i) => ({
        target: `${k} p99 <= 3 x its p99 without hostile traffic (ms)`,
        measured: round(p99(loaded[i]!), 1),
        limit: round(3 * p99(baseline[i]!), 1),
      })),
      {
        target: 'legitimate requests answered 503',
        measured: count(
          loaded.map((r) => r.statuses),
          ['503'],
        ),
        limit: 0,
      },
      { target: 'answers 500, 502 or 504 (all traffic)', measured: count(allStatuses, ['500', '502', '504']), limit: 0 },
      { target: 'worker restarts', measured: restarts, limit: 0 },
    ];
    const judged = targets.map((row) => ({ ...row, met: row.strict === true ? row.measured < row.limit : row.measured <= row.limit }));
    const result = {
      date: new Date().toISOString(),
      smoke,
      model: modelDir,
      seconds: P.hostileMs / 1000,
      rssAtReadyMiB: round(rssAtReady / MIB, 1),
      memoryBudgetMiB: round(budget / MIB, 1),
      capacity,
      rates,
      legitimate: KINDS.map((k, i) => ({
        kind: k,
        baseline: { statuses: baseline[i]!.statuses, latencyMs: summarize(baseline[i]!.latenciesMs) },
        hostile: { statuses: loaded[i]!.statuses, latencyMs: summarize(loaded[i]!.latenciesMs) },
      })),
      hostile,
      targets: judged,
    };
    writeFileSync(join(RESULTS, 'hostile.json'), JSON.stringify(result, null, 2));
    const md = markdown(result);
    writeFileSync(join(RESULTS, 'hostile.md'), md);
    if (argv.includes('--publish')) publish(md);
    process.stdout.write(md);
  } finally {
    await service.stop();
  }
}

function markdown(r: {
  date: string;
  smoke: boolean;
  model: string;
  seconds: number;
  rssAtReadyMiB: number;
  memoryBudgetMiB: number;
  hostile: Record<string, Record<string, number>>;
  targets: { target: string; measured: number; limit: number; met: boolean }[];
}): string {
  const lines = [
    `Hostile traffic (\`npm run bench:hostile${r.smoke ? ' -- --smoke' : ''}\`, ${r.date.slice(0, 10)}): ${r.seconds} s, model \`${r.model.replace(ROOT + '/', '')}\`, RSS at ready ${r.rssAtReadyMiB} MiB, memory budget ${r.memoryBudgetMiB} MiB.`,
    '',
    '| target | measured | target value | met |',
    '| --- | --- | --- | --- |',
    ...r.targets.map((t) => `| ${t.target} | ${t.measured} | ${t.limit} | ${t.met ? 'yes' : 'no'} |`),
    '',
    '| hostile class (1 req/s) | answers (status: count; 0 = none before the end) |',
    '| --- | --- |',
    ...Object.entries(r.hostile).map(
      ([name, statuses]) =>
        `| ${name} | ${Object.entries(statuses)
          .map(([s, n]) => `${s}: ${n}`)
          .join(', ')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** Replaces the section between the hostile markers in bench/RESULTS.md (appended the first time). */
function publish(md: string): void {
  const file = join(ROOT, 'bench', 'RESULTS.md');
  const start = '<!-- hostile:start -->';
  const end = '<!-- hostile:end -->';
  const text = readFileSync(file, 'utf8');
  const section = `${start}\n## Hostile traffic\n\n${md}${end}`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  writeFileSync(file, i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text.trimEnd()}\n\n${section}\n`);
}

/** `--alone`: each class by itself on an idle service, and the event-loop delay it caused (prom-client resets its histogram on each scrape). */
async function alone(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const seconds = Number(option('seconds') ?? 8);
  const service = await startService({
    root: ROOT,
    env: { MODEL_DIRS: modelDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
    logFile: join(RESULTS, 'service-hostile-alone.log'),
    readyTimeoutMs: 600_000,
  });
  const base = new URL(service.url);
  const rows: { name: string; eventLoopP99Ms: number; eventLoopMaxMs: number; statuses: Record<string, number> }[] = [];
  try {
    const classes = await hostileClasses(readFileSync(join(modelDir, 'golden_resized.png')));
    const lagMs = (text: string, name: string): number =>
      round(Math.max(0, (metricValue(text, name) ?? Number.NaN) - EVENT_LOOP_RESOLUTION_S) * 1000, 1);
    for (const c of classes) {
      await service.metrics();
      const statuses = (await runHostile([c], base, performance.now() + seconds * 1000))[c.name]!;
      const text = await service.metrics();
      const row = {
        name: c.name,
        eventLoopP99Ms: lagMs(text, 'nodejs_eventloop_lag_p99_seconds'),
        eventLoopMaxMs: lagMs(text, 'nodejs_eventloop_lag_max_seconds'),
        statuses,
      };
      log(`${c.name}: event-loop delay p99 ${row.eventLoopP99Ms} ms, max ${row.eventLoopMaxMs} ms`);
      rows.push(row);
    }
  } finally {
    await service.stop();
  }
  const md = [
    `Hostile classes alone (\`node bench/hostile.ts --alone\`, ${new Date().toISOString().slice(0, 10)}): ${seconds} s each at 1 req/s, no legitimate traffic, model \`${modelDir.replace(ROOT + '/', '')}\`.`,
    '',
    '| hostile class | event-loop delay p99 / max, ms | answers |',
    '| --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.eventLoopP99Ms} / ${r.eventLoopMaxMs} | ${Object.entries(r.statuses)
          .map(([k, n]) => `${k}: ${n}`)
          .join(', ')} |`,
    ),
    '',
  ].join('\n');
  writeFileSync(
    join(RESULTS, 'hostile-alone.json'),
    JSON.stringify({ date: new Date().toISOString(), seconds, model: modelDir, rows }, null, 2),
  );
  writeFileSync(join(RESULTS, 'hostile-alone.md'), md);
  process.stdout.write(md);
}

await (argv.includes('--alone') ? alone() : main());
