/**
 * The full-size model the benches measure speed on (bench/run.ts, bench/int8.ts): a random-weight ViT-B/16 +
 * BiomedBERT-base checkpoint written by training.random_checkpoint and exported by training.export into
 * `cache/vit-b16`, made once and reused.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface FullSizeModel {
  fp32: string;
  ckpt: string;
  vocab: string;
}

/** `python` runs `/usr/bin/python3 ARGS` in the repository root; `log` says what is being made. */
export function ensureFullSizeModel(cache: string, python: (args: string[]) => unknown, log: (message: string) => void): FullSizeModel {
  mkdirSync(cache, { recursive: true });
  const ckpt = join(cache, 'vit-b16.pt');
  const vocab = join(cache, 'vocab.txt');
  const fp32 = join(cache, 'vit-b16');
  if (existsSync(join(fp32, 'model.json'))) return { fp32, ckpt, vocab };
  if (!existsSync(ckpt) || !existsSync(vocab)) {
    log('writing a random ViT-B/16 + BiomedBERT-base checkpoint (training.random_checkpoint)');
    python(['-m', 'training.random_checkpoint', '--arch', 'vit-b16', '--out', ckpt, '--vocab-out', vocab]);
  }
  log('exporting it (training.export)');
  python([
    '-m',
    'training.export',
    '--checkpoint',
    ckpt,
    '--vocab',
    vocab,
    '--out',
    fp32,
    '--id',
    'unimed-bench-vit-b16-random',
    '--overwrite',
  ]);
  return { fp32, ckpt, vocab };
}
