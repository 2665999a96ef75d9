/**
 * The bundled service as a child process of the GPU check: started on a free loopback port with an environment,
 * waited for on /readyz (or its exit), its output kept in a file, stopped with SIGTERM (SIGKILL past a bound).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Service {
  url: string;
  /** What the service wrote so far (pino JSON lines, and whatever native code printed on stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** The service did not turn ready: `exitCode` is null when it was still running at the deadline (then killed). */
export class NotReady extends Error {
  readonly exitCode: number | null;
  readonly output: string;
  constructor(message: string, exitCode: number | null, output: string) {
    super(message);
    this.exitCode = exitCode;
    this.output = output;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const running = new Set<ChildProcess>();

/** Kills every service still running (the check's watchdog and its exit). */
export function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

export async function startService(o: {
  bundle: string;
  env: Record<string, string>;
  logFile: string;
  readyTimeoutMs: number;
}): Promise<Service> {
  const port = await freePort();
  const fd = openSync(o.logFile, 'w');
  const child = spawn(join(o.bundle, 'bin/node'), ['--max-semi-space-size=16', join(o.bundle, 'app/src/server.js')], {
    cwd: join(o.bundle, 'app'),
    env: { ...o.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  running.add(child);
  const exited = once(child, 'exit').then(() => running.delete(child));
  const output = (): string => readFileSync(o.logFile, 'utf8');
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + o.readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new NotReady(
        `the service exited before it was ready (exit ${child.exitCode ?? child.signalCode})`,
        child.exitCode ?? 1,
        output(),
      );
    }
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, output, stop };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new NotReady(`the service was not ready within ${o.readyTimeoutMs / 1000} s`, null, output());
    }
    await sleep(250);
  }
}

/** The pino lines of `output` (anything else, e.g. a native library's own warnings, is left out). */
export function logLines(output: string): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial last line
    }
  }
  return lines;
}

/** What the service says it serves: the providers of GET /models and the provider label of unimed_model_info. */
export async function servedProviders(
  url: string,
): Promise<{ image: string; text: string; metric: string; requested: string; model: string }> {
  const models = (await (await fetch(`${url}/models`, { signal: AbortSignal.timeout(10_000) })).json()) as {
    models: { id: string; providers: { image: string; text: string } }[];
  };
  const first = models.models[0];
  if (first === undefined) throw new Error('GET /models lists no model');
  const metrics = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const info = metrics.split('\n').find((l) => l.startsWith('unimed_model_info{'));
  const label = (name: string): string => new RegExp(`[{,]${name}="([^"]*)"`).exec(info ?? '')?.[1] ?? 'unknown';
  return {
    image: first.providers.image,
    text: first.providers.text,
    metric: label('provider'),
    requested: label('requested_provider'),
    model: first.id,
  };
}

/** Seconds the golden step of the last model load took (unimed_model_load_step_seconds{step="golden"}), if published. */
export async function goldenSeconds(url: string): Promise<number | undefined> {
  const metrics = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = metrics.split('\n').find((l) => l.startsWith('unimed_model_load_step_seconds{') && l.includes('step="golden"'));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}
