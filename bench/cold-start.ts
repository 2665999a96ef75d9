/**
 * Cold start (issue 26): process start -> first /readyz 200, for one model directory, `--runs` times per
 * service checkout, the checkouts interleaved (A, B, A, B, ...) so that a busy machine weighs on each alike.
 *
 *   node bench/cold-start.ts --service-root /work/main --service-root . --model bench/.cache/vit-b16 [--runs 5]
 *
 * Each --service-root is a checkout with its node_modules (e.g. a second git worktree at the commit to compare
 * against); its src/server.ts is started with the node flags of `npm start`. Prints one line per run, then per
 * root the median, min and max in seconds, the machine's load average, and the step timings the last run of each
 * root logged ("model load step", where the checkout has them). Writes bench/results/cold-start.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, SERVICE_NODE_FLAGS } from './service.ts';
import { round } from './stats.ts';

const POLL_MS = 20;

function args(): { roots: string[]; model: string; runs: number } {
  const argv = process.argv.slice(2);
  const roots: string[] = [];
  let model: string | undefined;
  let runs = 5;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--service-root' && value !== undefined) roots.push(resolve(value));
    else if (argv[i] === '--model' && value !== undefined) model = resolve(value);
    else if (argv[i] === '--runs' && value !== undefined) runs = Number(value);
    else throw new Error(`unknown argument ${argv[i]}; usage: --service-root DIR (repeatable) --model DIR [--runs N]`);
    i++;
  }
  if (roots.length === 0 || model === undefined || !(runs >= 1)) {
    throw new Error('usage: node bench/cold-start.ts --service-root DIR [--service-root DIR ...] --model DIR [--runs N]');
  }
  return { roots, model, runs };
}

interface Run {
  seconds: number;
  /** The "model load step" lines of the run: step -> seconds. */
  steps: Record<string, number>;
}

/** Starts the service of `root` on `model` and times it to the first /readyz 200; then stops it. */
async function coldStart(root: string, model: string): Promise<Run> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, 'src/server.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), MODEL_DIRS: model, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let exited: number | null | undefined;
  const exit = new Promise<void>((done) => child.once('exit', (code) => ((exited = code), done())));
  try {
    for (;;) {
      if (exited !== undefined) throw new Error(`the service of ${root} exited with ${exited} while loading:\n${output.slice(-2000)}`);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      // A bench's poll, not a test's synchronisation: it bounds the resolution of the figure to POLL_MS.
      await sleep(POLL_MS);
    }
    const seconds = (performance.now() - started) / 1000;
    const steps: Record<string, number> = {};
    for (const line of output.split('\n')) {
      if (!line.includes('"model load step"')) continue;
      const { step, seconds: s } = JSON.parse(line) as { step: string; seconds: number };
      steps[step] = s;
    }
    return { seconds, steps };
  } finally {
    if (exited === undefined) child.kill('SIGTERM');
    await exit;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const { roots, model, runs } = args();
const results = new Map<string, Run[]>(roots.map((root) => [root, []]));
const loadBefore = loadavg();
for (let i = 0; i < runs; i++) {
  for (const root of roots) {
    const run = await coldStart(root, model);
    results.get(root)!.push(run);
    process.stderr.write(
      `[cold-start] run ${i + 1}/${runs} ${root}: ${run.seconds.toFixed(2)} s (load average ${loadavg()[0]!.toFixed(2)})\n`,
    );
  }
}
const summary = {
  model,
  runs,
  cpus: cpus().length,
  loadAverage: { before: loadBefore.map((x) => round(x, 2)), after: loadavg().map((x) => round(x, 2)) },
  roots: roots.map((root) => {
    const list = results.get(root)!;
    const seconds = list.map((r) => r.seconds);
    return {
      root,
      medianSeconds: round(median(seconds), 2),
      minSeconds: round(Math.min(...seconds), 2),
      maxSeconds: round(Math.max(...seconds), 2),
      seconds: seconds.map((s) => round(s, 2)),
      lastRunSteps: list.at(-1)!.steps,
    };
  }),
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'cold-start.json'), `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
