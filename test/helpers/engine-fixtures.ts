/** Shared setup for the engine/model/zero-shot tests: real config, real registry on models/demo. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metrics } from '../../src/metrics.ts';
import { DEMO } from './common.ts';

// The shared helpers live in ./common.ts; these names stay for the files that import them from here.
export { ROOT as REPO_ROOT, DEMO as DEMO_DIR, PYTHON, silentLogger, testConfig, loadRegistry, maxAbsDiff } from './common.ts';

/** A copy of models/demo in a fresh temp dir (removed by the returned cleanup). */
export async function copyDemo(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'unimed-model-'));
  const dir = join(root, 'demo');
  await cp(DEMO, dir, { recursive: true });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** Rewrites model.json `files` so that the sha256 check passes again after an edit. */
export async function rehash(dir: string, name: string): Promise<void> {
  const { createHash } = await import('node:crypto');
  const manifestPath = join(dir, 'model.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { files: Record<string, string> };
  manifest.files[name] = createHash('sha256')
    .update(await readFile(join(dir, name)))
    .digest('hex');
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
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))
    .reduce((a, v) => a + v.value, 0);
}
