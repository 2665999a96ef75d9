import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { TextTokenizer } from '../src/models/tokenizer.ts';
import { prng } from './stats.ts';

/** Words that are single pieces in the synthetic vocabulary of `training.random_checkpoint` (its sample corpus). */
const WORDS = (
  'a chest x-ray showing pneumonia in the right lower lobe ct scan of abdomen with contrast liver lesion mri brain ' +
  't2-weighted no acute infarct ultrasound image kidney hydronephrosis histopathology slide adenocarcinoma h&e stain ' +
  'retinal fundus photograph diabetic retinopathy and hemorrhages normal study without findings an medical'
).split(' ');

/** The classify benchmark's 6 labels, one template each: what the seed pipeline encodes on every call. */
export const BENCH_PROMPT_SET = {
  prompt_sets: {
    bench: {
      labels: ['xray', 'ct', 'mri', 'ultrasound', 'histopathology', 'fundus'],
      templates: ['a {} image.'],
      description: 'benchmark: 6 modality labels, one template',
    },
  },
};

/**
 * A 512 x 512 JPEG with smooth gradients, shapes and noise (a photo-like file, so decoding costs what a real
 * one does; flat images decode unrealistically fast).
 */
export async function writeBenchJpeg(path: string, seed = 7): Promise<Buffer> {
  const size = 512;
  const rand = prng(seed);
  const raw = Buffer.alloc(size * size * 3);
  const cx = size * (0.3 + 0.4 * rand());
  const cy = size * (0.3 + 0.4 * rand());
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - cx, y - cy) / size;
      const base = 128 + 90 * Math.cos(9 * r) * Math.sin((x + y) / 60);
      const noise = (rand() - 0.5) * 40;
      const i = (y * size + x) * 3;
      raw[i] = Math.max(0, Math.min(255, base + noise));
      raw[i + 1] = Math.max(0, Math.min(255, base * 0.9 + noise));
      raw[i + 2] = Math.max(0, Math.min(255, 255 - base + noise));
    }
  }
  const jpeg = await sharp(raw, { raw: { width: size, height: size, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
  await writeFile(path, jpeg);
  return jpeg;
}

export interface Prompt {
  text: string;
  ids: number[];
}

/**
 * `count` distinct short prompts whose token counts ([CLS] and [SEP] included) are spread uniformly over
 * [minTokens, maxTokens], counted with the model's own tokenizer.
 */
export async function makePrompts(modelDir: string, count: number, minTokens = 8, maxTokens = 24, seed = 11): Promise<Prompt[]> {
  const manifest = JSON.parse(await readFile(join(modelDir, 'model.json'), 'utf8')) as {
    text: { tokenizer: string; context_length: number; pad_id: number; cls_id: number; sep_id: number };
  };
  const t = manifest.text;
  const tokenizer = await TextTokenizer.load(modelDir, t.tokenizer, {
    contextLength: t.context_length,
    padId: t.pad_id,
    clsId: t.cls_id,
    sepId: t.sep_id,
  });
  const rand = prng(seed);
  const seen = new Set<string>();
  const out: Prompt[] = [];
  for (let attempts = 0; out.length < count; attempts++) {
    if (attempts > count * 50) throw new Error(`could not make ${count} distinct prompts`);
    const target = minTokens + Math.floor(rand() * (maxTokens - minTokens + 1));
    const words: string[] = [];
    let ids: number[] = [];
    while (ids.length < target) {
      words.push(WORDS[Math.floor(rand() * WORDS.length)]!);
      ids = tokenizer.encode(words.join(' ')).ids;
    }
    const text = words.join(' ');
    if (ids.length !== target || seen.has(text)) continue;
    seen.add(text);
    out.push({ text, ids });
  }
  return out;
}
