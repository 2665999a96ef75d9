/**
 * Running the `unimed` command-line tools (packages/cli) in tests: as a child process of Node, against a real
 * service listening on 127.0.0.1 (started in the test process, so the CLI is always spawned asynchronously).
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Test } from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { loadRegistry, maxAbsDiff, PYTHON, ROOT } from './common.ts';
import { listen } from './http.ts';

export const CLI = join(ROOT, 'packages/cli/bin/unimed.ts');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running CLI: its output so far, and its end. */
export interface RunningCli {
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `unimed ARGS` with `env` added to the test's environment (UNIMED_URL for the service, mostly). */
export function startCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, UNIMED_API_KEY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = (async () => {
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr };
  })();
  return { pid: child.pid!, stdout: () => stdout, stderr: () => stderr, exited, kill: (signal) => child.kill(signal) };
}

export function runCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return startCli(args, env, cwd).exited;
}

/** The demo model served on a free port for this test (closed in its teardown). */
export async function serveDemo(t: Test, env: Record<string, string> = {}): Promise<{ url: string }> {
  const { registry, config } = await loadRegistry(env);
  const { app, url } = await listen(config, registry, new Metrics({ defaultMetrics: false }));
  t.teardown(async () => {
    await app.close();
    await registry.close();
  });
  return { url };
}

/** `python3 -m training.synthetic --out DIR --per-class N --seed S` (DIR/<modality>/NNNNN.png + labels.csv). */
export async function makeSynthetic(dir: string, perClass: number, seed: number): Promise<void> {
  await promisify(execFile)(PYTHON, ['-m', 'training.synthetic', '--out', dir, '--per-class', String(perClass), '--seed', String(seed)], {
    cwd: ROOT,
  });
}

/** The checks a test needs from Python: the interpreter with numpy and Pillow (the generator's imports). */
export const PYTHON_INSTALL = 'apt-get install python3 python3-numpy python3-pil python3-pydicom';

/** embeddings.npy as numpy reads it: shape, dtype and rows. */
export async function numpyLoad(file: string): Promise<{ shape: number[]; dtype: string; rows: number[][] }> {
  const script =
    'import json, sys, numpy as np; a = np.load(sys.argv[1]); print(json.dumps({"shape": list(a.shape), "dtype": str(a.dtype), "rows": a.astype(float).tolist()}))';
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', script, file], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as { shape: number[]; dtype: string; rows: number[][] };
}

export const readText = (dir: string, name: string): string => readFileSync(join(dir, name), 'utf8');

export interface Archive {
  root: string;
  /** the test's own listing: image files by extension, sorted, `/`-separated */
  images: string[];
  /** those the service refuses: a truncated PNG (422) */
  failing: string[];
  /** the multi-frame DICOM objects and their frame counts: embedded one row per frame */
  frames: Record<string, number>;
}

/** The rows index.csv lists for `archive`: every image that does not fail, a multi-frame object once per frame. */
export function expectedRows(archive: Archive): { path: string; frame?: number }[] {
  return archive.images
    .filter((path) => !archive.failing.includes(path))
    .flatMap((path) => {
      const frames = archive.frames[path];
      return frames === undefined ? [{ path }] : Array.from({ length: frames }, (_, frame) => ({ path, frame }));
    });
}

/**
 * An archive to embed under `dir`/archive: 24 synthetic PNGs (4 per modality, the training toolkit's
 * generator), the CT DICOM and the 16-bit TIFF of examples/, a multi-frame DICOM, a truncated PNG and a text
 * file. Sorted, the images that fail come last, so that the first batches of a run all succeed.
 */
export async function makeArchive(dir: string): Promise<Archive> {
  const root = join(dir, 'archive');
  await makeSynthetic(join(root, 'synthetic'), 4, 31);
  rmSync(join(root, 'synthetic', 'labels.csv'));
  mkdirSync(join(root, 'dicom'));
  mkdirSync(join(root, 'volumes'));
  copyFileSync(join(ROOT, 'examples/ct.dcm'), join(root, 'dicom/ct.dcm'));
  copyFileSync(join(ROOT, 'examples/ct-volume.dcm'), join(root, 'volumes/ct-volume.dcm'));
  copyFileSync(join(ROOT, 'examples/mri.tif'), join(root, 'mri.tif'));
  writeFileSync(join(root, 'zz-broken.png'), readFileSync(join(ROOT, 'examples/chest-xray.png')).subarray(0, 200));
  writeFileSync(join(root, 'notes.txt'), 'not an image\n');
  const images = readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((p) => statSync(join(root, p)).isFile() && /\.(png|dcm|tif)$/.test(p))
    .map((p) => p.split(sep).join('/'))
    .sort();
  return { root, images, failing: ['zz-broken.png'], frames: { 'volumes/ct-volume.dcm': 16 } };
}

/** index.csv, meta.json and errors.csv byte for byte, embeddings.npy within 1e-5. */
export async function sameOutputs(t: Test, got: string, want: string, what: string): Promise<void> {
  for (const name of ['index.csv', 'meta.json', 'errors.csv'])
    t.equal(readText(got, name), readText(want, name), `${what}: ${name} equals the single run's`);
  const [a, b] = await Promise.all([numpyLoad(join(got, 'embeddings.npy')), numpyLoad(join(want, 'embeddings.npy'))]);
  t.same(a.shape, b.shape, `${what}: embeddings.npy has the same shape`);
  t.ok(
    a.rows.every((row, i) => maxAbsDiff(row, b.rows[i]!) <= 1e-5),
    `${what}: every row within 1e-5 of the single run's`,
  );
}
