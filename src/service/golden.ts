import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeImage } from '../inputs/decode.ts';
import { cosine } from '../vectors.ts';
import type { Manifest } from '../models/manifest.ts';
import type { TextTokenizer } from '../models/tokenizer.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import type { ImagePixels } from '../engine/feeds.ts';

interface GoldenText {
  text: string;
  cleaned?: string;
  input_ids: number[];
  embedding: number[];
}

interface GoldenImage {
  file: string;
  kind: 'exact' | 'resized';
  embedding: number[];
}

export interface GoldenEncoders {
  tokenizer: TextTokenizer;
  imageSpec: ImageTensorSpec;
  imagePixels: number;
  /** Raw token ids in, L2-normalized embeddings out (no cache: the check must really run the encoder). */
  embedTokenized(ids: number[][]): Promise<Float32Array[]>;
  embedImages(pixels: ImagePixels[]): Promise<Float32Array[]>;
}

function fail(message: string): never {
  throw new Error(`golden check failed: ${message}`);
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Proves this service computes what PyTorch computed at export (golden.json): token ids exactly (cleaning +
 * tokenizer + truncation agree with Python), then every text and both golden images at or above the cosine
 * tolerances of model.json. The first failure names the check, the item and the numbers. Texts are referred
 * to by index: golden texts are not patient data, but the log rule stays simple.
 */
export async function checkGolden(dir: string, manifest: Manifest, encoders: GoldenEncoders): Promise<void> {
  const path = join(dir, manifest.golden.file);
  const golden = JSON.parse(await readFile(path, 'utf8')) as { texts?: GoldenText[]; images?: GoldenImage[] };
  const texts = golden.texts ?? [];
  const images = golden.images ?? [];
  if (texts.length === 0) fail(`${manifest.golden.file} has no texts`);
  for (const kind of ['exact', 'resized'] as const) {
    if (!images.some((i) => i.kind === kind)) fail(`${manifest.golden.file} has no "${kind}" image`);
  }

  const ids = texts.map((t, i) => {
    const { cleaned, ids: got } = encoders.tokenizer.encode(t.text);
    const at = firstDifference(got, t.input_ids);
    if (at >= 0) {
      const cleaning = t.cleaned !== undefined && cleaned !== t.cleaned ? '; the cleaned text differs from golden "cleaned" too' : '';
      fail(
        `text ${i}: input_ids differ at position ${at} (got ${String(got[at])}, golden ${String(t.input_ids[at])}; ` +
          `lengths ${got.length} vs ${t.input_ids.length})${cleaning}`,
      );
    }
    return got;
  });
  const textEmbeddings = await encoders.embedTokenized(ids);
  texts.forEach((t, i) => {
    const c = cosine(textEmbeddings[i]!, t.embedding);
    if (!(c >= manifest.golden.text_min_cosine)) {
      fail(`text ${i}: embedding cosine ${c.toFixed(7)} < text_min_cosine ${manifest.golden.text_min_cosine}`);
    }
  });

  for (const image of images) {
    if (!(image.file in manifest.files)) fail(`image ${image.file} is not listed in model.json "files"`);
    const tolerance = image.kind === 'exact' ? manifest.golden.image_exact_min_cosine : manifest.golden.image_resized_min_cosine;
    const bytes = await readFile(join(dir, image.file));
    // The entry point requests use; golden images are 8-bit RGB PNGs (models/README.md), so no pixel decoder is needed.
    const { pixels } = await decodeImage({ bytes }, encoders.imageSpec, { imagePixels: encoders.imagePixels, decoder: undefined });
    const [embedding] = await encoders.embedImages([pixels]);
    const c = cosine(embedding!, image.embedding);
    if (!(c >= tolerance)) {
      fail(`image ${image.file} (${image.kind}): embedding cosine ${c.toFixed(7)} < image_${image.kind}_min_cosine ${tolerance}`);
    }
  }
}
