/** Starts the service under test as a child process (`node src/server.ts`) and reads its metrics and memory. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunningService {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Resident set size of the whole service process (worker threads included), bytes. */
  rssBytes(): number;
  memoryMaps(): MemoryMaps | undefined;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Keep equal to the flags in package.json's `start` and `dev` scripts and docker/Dockerfile's CMD. */
export const SERVICE_NODE_FLAGS = ['--max-semi-space-size=16'];

/** VmRSS from /proc (Linux); falls back to the service's own process_resident_memory_bytes elsewhere. */
function procRss(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process by kind of mapping, MiB (Linux /proc/PID/smaps; undefined elsewhere). */
export interface MemoryMaps {
  /** glibc's main malloc arena (`[heap]`): what the HTTP thread mallocs, Node buffers included. */
  mainArena: number;
  /** Anonymous mappings: V8 heaps of every isolate, other threads' malloc arenas, large mmap'd blocks. */
  anonymous: number;
  /** Mapped files: the node binary, shared libraries, onnxruntime. */
  files: number;
}

export function memoryMaps(pid: number): MemoryMaps | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = { mainArena: 0, anonymous: 0, files: 0 };
  let kind: keyof MemoryMaps = 'anonymous';
  for (const line of text.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1] ?? '';
      kind = name === '[heap]' ? 'mainArena' : name.startsWith('/') ? 'files' : 'anonymous';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kib[kind] += Number(rss[1]);
  }
  const mib = (v: number): number => Math.round((v / 1024) * 10) / 10;
  return { mainArena: mib(kib.mainArena), anonymous: mib(kib.anonymous), files: mib(kib.files) };
}

export async function startService(options: {
  root: string;
  env: Record<string, string>;
  logFile: string;
  readyTimeoutMs: number;
  /** Run it on these CPUs only (`taskset -c LIST`, Linux): the service then sizes its threads for them. */
  cpus?: string;
}): Promise<RunningService> {
  const port = await freePort();
  const log = createWriteStream(options.logFile);
  // Started with the node flags of `npm start` / `npm run dev` (package.json), so memory is measured as deployed.
  // BENCH_SERVICE_NODE_FLAGS adds flags to the service alone (e.g. --cpu-prof), not to the bench's own processes.
  const extraFlags = (process.env.BENCH_SERVICE_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const command = [process.execPath, ...SERVICE_NODE_FLAGS, ...extraFlags, 'src/server.ts'];
  // taskset execs node in its own process, so the pid (RSS, smaps) is still the service's.
  const [file, ...args] = options.cpus === undefined ? command : ['taskset', '-c', options.cpus, ...command];
  const child = spawn(file!, args, {
    cwd: options.root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited: number | null | undefined;
  const exitPromise = new Promise<void>((resolve) => child.once('exit', (code) => ((exited = code), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + options.readyTimeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`the service exited with code ${exited} while loading; see ${options.logFile}`);
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`the service was not ready within ${options.readyTimeoutMs} ms; see ${options.logFile}`);
    }
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    await sleep(250);
  }
  const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
  return {
    url,
    pid: child.pid!,
    child,
    rssBytes: () => procRss(child.pid!),
    memoryMaps: () => memoryMaps(child.pid!),
    metrics,
    stop: async () => {
      if (exited === undefined) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exitPromise;
      clearTimeout(timer);
      log.end();
    },
  };
}

/** Value of a Prometheus sample: `name` or `name{...}` whose labels contain every given label. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m === null || m[1] !== name) continue;
    const labelText = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}

/** The execution provider label of unimed_model_info (what the service really uses). */
export function servedProvider(text: string): string {
  const m = /^unimed_model_info\{[^}]*provider="([^"]+)"[^}]*\}\s+1/m.exec(text);
  return m?.[1] ?? 'unknown';
}
