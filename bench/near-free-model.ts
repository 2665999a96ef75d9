/**
 * The near-free model of the `frontend` phase: a model directory whose encoders take and give the real shapes
 * (3 x 224 x 224 images, 512-dim embeddings by default) but compute almost nothing (training/near_free_model.py),
 * so that what the service does around the model (HTTP, JSON, decode, resize, batching) is all that is measured.
 * The directory passes the service's load checks as any other: golden.json is computed from the graphs themselves
 * (images through the service's own decodeImage, texts from the demo's golden token ids), model.json lists sha256s.
 * Written to bench/.cache/ only, never committed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { decodeImage } from '../src/inputs/decode.ts';
import { tensorOf } from '../src/engine/feeds.ts';
import type { ImageTensorSpec } from '../src/models/types.ts';

const MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

interface DemoGolden {
  texts: { text: string; cleaned?: string; input_ids: number[] }[];
}

/** A smooth RGB PNG, `width` x `height`. */
function gradientPng(width: number, height: number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      raw[i] = (x * 255) / width;
      raw[i + 1] = (y * 255) / height;
      raw[i + 2] = ((x + y) * 127) / (width + height);
    }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Writes the directory once (kept while its model.json exists); returns it. */
export async function ensureNearFreeModel(root: string, dir: string, python: string, size = 224, dim = 512): Promise<string> {
  if (existsSync(join(dir, 'model.json'))) return dir;
  mkdirSync(dir, { recursive: true });
  execFileSync(python, ['-m', 'training.near_free_model', '--out', dir, '--size', String(size), '--dim', String(dim)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const demo = join(root, 'models', 'demo');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(demo, f), join(dir, f));
  writeFileSync(join(dir, 'golden_exact.png'), await gradientPng(size, size));
  writeFileSync(join(dir, 'golden_resized.png'), await gradientPng(size + 76, size + 36));

  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const image = await ort.InferenceSession.create(join(dir, 'image_encoder.onnx'), options);
  const text = await ort.InferenceSession.create(join(dir, 'text_encoder.onnx'), options);
  const spec: ImageTensorSpec = { size, mean: MEAN, std: STD };
  const images = [];
  for (const [file, kind] of [
    ['golden_exact.png', 'exact'],
    ['golden_resized.png', 'resized'],
  ] as const) {
    const { pixels } = await decodeImage({ bytes: readFileSync(join(dir, file)) }, spec, { imagePixels: 1 << 28, decoder: undefined });
    const out = await image.run({ pixel_values: new ort.Tensor('float32', tensorOf(pixels), [1, 3, size, size]) });
    images.push({ file, kind, embedding: Array.from(out.image_embeds!.data as Float32Array) });
  }
  const demoGolden = JSON.parse(readFileSync(join(demo, 'golden.json'), 'utf8')) as DemoGolden;
  const texts = [];
  for (const t of demoGolden.texts) {
    const ids = BigInt64Array.from(t.input_ids.map(BigInt));
    const mask = new BigInt64Array(ids.length).fill(1n);
    const dims = [1, ids.length];
    const out = await text.run({ input_ids: new ort.Tensor('int64', ids, dims), attention_mask: new ort.Tensor('int64', mask, dims) });
    texts.push({ ...t, embedding: Array.from(out.text_embeds!.data as Float32Array) });
  }
  await image.release();
  await text.release();
  writeFileSync(join(dir, 'golden.json'), JSON.stringify({ texts, images }));

  const demoManifest = JSON.parse(readFileSync(join(demo, 'model.json'), 'utf8')) as { text: Record<string, unknown> };
  const files = [
    'golden.json',
    'golden_exact.png',
    'golden_resized.png',
    'image_encoder.onnx',
    'text_encoder.onnx',
    'tokenizer.json',
    'tokenizer_config.json',
  ];
  const manifest = {
    format_version: 1,
    id: 'unimed-bench-near-free',
    embed_dim: dim,
    logit_scale: 100,
    image: {
      file: 'image_encoder.onnx',
      input: 'pixel_values',
      output: 'image_embeds',
      size,
      resize: 'shortest_side_bicubic_center_crop',
      mean: MEAN,
      std: STD,
    },
    text: { ...demoManifest.text, file: 'text_encoder.onnx', output: 'text_embeds' },
    files: Object.fromEntries(files.map((f) => [f, sha256(join(dir, f))])),
    golden: { file: 'golden.json', text_min_cosine: 0.99999, image_exact_min_cosine: 0.99999, image_resized_min_cosine: 0.99999 },
    provenance: { exporter: 'training.near_free_model (bench/near-free-model.ts)', opset: 17 },
    intended_use: 'Benchmark only: encoders that compute almost nothing, to measure the service around the model. Not a model.',
  };
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}
