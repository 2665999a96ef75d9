/** Shared setup for the engine/model/zero-shot tests: real config, real registry on models/demo. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import type { Config } from '../../src/config.ts';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/models/registry.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DEMO_DIR = join(REPO_ROOT, 'models', 'demo');
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

export const silentLogger = pino({ level: 'silent' });

/** The service's config from a test environment (models/demo unless MODEL_DIRS says otherwise). */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ INTRA_OP_THREADS: '1', ...env }, REPO_ROOT);
}

export async function loadRegistry(env: Record<string, string> = {}): Promise<{ registry: ModelRegistry; metrics: Metrics; config: Config }> {
  const config = testConfig(env);
  const metrics = new Metrics({ defaultMetrics: false });
  const registry = await ModelRegistry.load(config, { logger: silentLogger, metrics });
  return { registry, metrics, config };
}

/** A copy of models/demo in a fresh temp dir (removed by the returned cleanup). */
export async function copyDemo(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'unimed-model-'));
  const dir = join(root, 'demo');
  await cp(DEMO_DIR, dir, { recursive: true });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Rewrites model.json `files` so that the sha256 check passes again after an edit. */
export async function rehash(dir: string, name: string): Promise<void> {
  const { createHash } = await import('node:crypto');
  const manifestPath = join(dir, 'model.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { files: Record<string, string> };
  manifest.files[name] = createHash('sha256').update(await readFile(join(dir, name))).digest('hex');
  await writeFile(manifestPath, JSON.stringify(manifest, null, 2));
}

/** Sum and count of a histogram series, read from the registry (what /metrics would show). */
export async function histogram(metrics: Metrics, name: string, labels: Record<string, string>): Promise<{ sum: number; count: number }> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = (l: Record<string, unknown>): boolean => Object.entries(labels).every(([k, v]) => l[k] === v);
  const values = (metric?.values ?? []) as { metricName?: string; labels: Record<string, unknown>; value: number }[];
  const sum = values.find((v) => v.metricName === `${name}_sum` && match(v.labels))?.value ?? 0;
  const count = values.find((v) => v.metricName === `${name}_count` && match(v.labels))?.value ?? 0;
  return { sum, count };
}

export async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((a, v) => a + v.value, 0);
}

/** Polls `condition` every few ms until it holds; fails after `timeoutMs` (no sleeps as synchronisation). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Max absolute difference of two vectors. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
