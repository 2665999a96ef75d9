/**
 * The one copy of what most tests share: paths, the test configuration, a real registry on models/demo,
 * polling for a condition, cosine, the service's logger with its lines kept. (test/helpers/engine-fixtures.ts and test/helpers/http.ts re-export these
 * for the files that still import them from there.)
 */
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from 'pino';
import { createLogger } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/service/registry.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const DEMO = join(ROOT, 'models/demo');
/** Debian's interpreter with torch, numpy, Pillow and pydicom (only the reference suite runs it). */
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

export const silentLogger: Logger = pino({ level: 'silent' });

/** The service's configuration for tests: the demo model, one single-threaded worker per encoder, silent logs, no audit lines. */
export function testConfig(env: Record<string, string> = {}): Config {
  // Audit lines would land in tap's stdout; the tests that read them pass buildApp an auditDestination.
  return loadConfig(
    { MODEL_DIRS: DEMO, WORKERS_PER_ENCODER: '1', INTRA_OP_THREADS: '1', LOG_LEVEL: 'silent', AUDIT_LOG: '/dev/null', ...env },
    ROOT,
  );
}

/** A real registry (verified, warmed models) for `testConfig(env)`; close it in a teardown. `inferenceWorker`:
 * another worker entry than src/engine/worker.ts (test/fixtures/workers/). */
export async function loadRegistry(
  env: Record<string, string> = {},
  options: { metrics?: Metrics; logger?: Logger; inferenceWorker?: URL } = {},
): Promise<{ registry: ModelRegistry; metrics: Metrics; config: Config }> {
  const config = testConfig(env);
  const metrics = options.metrics ?? new Metrics({ defaultMetrics: false });
  const registry = await ModelRegistry.load(config, {
    logger: options.logger ?? silentLogger,
    metrics,
    ...(options.inferenceWorker === undefined ? {} : { inferenceWorker: options.inferenceWorker }),
  });
  return { registry, metrics, config };
}

/**
 * Polls `check` every 5 ms until it returns something other than undefined or false, and returns that; fails
 * after `timeoutMs` naming `what`. The way to wait for a state: never a fixed sleep.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Cosine of two vectors (neither needs to be normalized); the tests' own, not the service's. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Largest absolute difference of two vectors. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The service's own logger (createLogger) at `level`, every line it writes kept in `lines`, in order. */
export function capturedLogger(level: string): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger(level, stream), lines };
}

/** A TCP port free on 127.0.0.1 now (for a server a test starts; another process could take it in between). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
