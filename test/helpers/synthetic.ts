/**
 * The demo's synthetic images, made by training/synthetic.py (numpy + Pillow): committed under
 * test/fixtures/reference/<test>/ for `npm test` (Pillow's PNG files as written; their noise does not compress
 * further losslessly), made live by `npm run test:reference`. The check (`npm run fixtures -- --check`) compares
 * decoded pixels and labels.csv with a fresh run of the generator, so a different zlib does not matter.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { PYTHON, ROOT } from './common.ts';
import { referenceAsync, type Blobs } from './reference.ts';

export interface SyntheticImage {
  /** relative path as in labels.csv, e.g. ct/00003.png */
  path: string;
  modality: string;
  bytes: Buffer;
}

async function decodedPixels(blobs: Blobs): Promise<Blobs> {
  const out: Blobs = {};
  for (const [name, bytes] of Object.entries(blobs)) {
    if (!name.endsWith('.png')) {
      out[name] = bytes;
      continue;
    }
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    out[name] = Buffer.concat([Buffer.from(`${info.width}x${info.height}x${info.channels}\n`), data]);
  }
  return out;
}

/** `python3 -m training.synthetic --per-class N --seed S`: labels.csv rows with their image bytes, in order. */
export async function syntheticImages(perClass: number, seed: number): Promise<SyntheticImage[]> {
  const recipe = {
    kind: 'output' as const,
    what: `python3 -m training.synthetic --per-class ${perClass} --seed ${seed}`,
    key: [perClass, seed],
    normalize: decodedPixels,
  };
  const blobs = await referenceAsync(recipe, () => {
    const dir = mkdtempSync(join(tmpdir(), 'unimed-synthetic-'));
    try {
      execFileSync(PYTHON, ['-m', 'training.synthetic', '--out', dir, '--per-class', String(perClass), '--seed', String(seed)], {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const csv = readFileSync(join(dir, 'labels.csv'));
      const out: Blobs = { 'labels.csv': csv };
      for (const [path] of rows(csv)) {
        out[path] = readFileSync(join(dir, path));
      }
      return Promise.resolve(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return rows(blobs['labels.csv']!).map(([path, modality]) => ({ path, modality, bytes: blobs[path]! }));
}

function rows(csv: Buffer): [path: string, modality: string][] {
  return csv
    .toString('utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [path, modality] = line.split(',');
      return [path!, modality!];
    });
}
