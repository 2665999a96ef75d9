import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as hfTokenizers from '@huggingface/tokenizers';
import { cleanText } from './clean.ts';

/** The part of @huggingface/tokenizers used here (its published .d.ts files do not resolve under nodenext). */
interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean }): { ids: number[] };
  token_to_id(token: string): number | undefined;
}
const Tokenizer = (hfTokenizers as unknown as { Tokenizer: new (json: object, config: object) => HfTokenizer }).Tokenizer;

// Two places where the JS BertNormalizer differs from the Rust/Python one, fixed before it runs:
// unassigned code points (Cn) count as control characters there and are removed; CJK ideographs outside the
// BMP get spaces around them there (the JS version looks at UTF-16 units and misses them).
const UNASSIGNED = /\p{Cn}/gu;
const ASTRAL_CJK = /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B920}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;

function alignWithRustNormalizer(text: string): string {
  return text.replace(UNASSIGNED, '').replace(ASTRAL_CJK, ' $& ');
}

export interface TextTokenSpec {
  contextLength: number;
  padId: number;
  clsId: number;
  sepId: number;
}

/** One text ready for the text encoder: `[CLS] pieces… [SEP]`, unpadded. */
export interface TokenizedText {
  cleaned: string;
  ids: number[];
}

/**
 * Cleaning + BERT WordPiece + the contract's truncation. The library's own truncation and post-processor are
 * bypassed (pieces are asked for without special tokens) so that truncation keeps [CLS], the first
 * `contextLength - 2` pieces and [SEP] exactly as models/README.md says, whatever tokenizer.json declares.
 */
export class TextTokenizer {
  readonly spec: TextTokenSpec;
  readonly #tokenizer: HfTokenizer;

  private constructor(tokenizer: HfTokenizer, spec: TextTokenSpec) {
    this.#tokenizer = tokenizer;
    this.spec = spec;
  }

  static async load(dir: string, tokenizerFile: string, spec: TextTokenSpec): Promise<TextTokenizer> {
    const json = JSON.parse(await readFile(join(dir, tokenizerFile), 'utf8')) as object;
    let config: object = {};
    try {
      config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as object;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const tokenizer = new TextTokenizer(new Tokenizer(json, config), spec);
    for (const [name, id] of [['[CLS]', spec.clsId], ['[SEP]', spec.sepId], ['[PAD]', spec.padId]] as const) {
      const found = tokenizer.#tokenizer.token_to_id(name);
      if (found !== id) throw new Error(`${tokenizerFile}: ${name} has id ${String(found)} but model.json says ${id}`);
    }
    return tokenizer;
  }

  /** Word-piece ids of an already cleaned text, without [CLS]/[SEP] and without truncation. */
  pieces(cleaned: string): number[] {
    if (cleaned === '') return [];
    return this.#tokenizer.encode(alignWithRustNormalizer(cleaned), { add_special_tokens: false }).ids;
  }

  /** Ids of an already cleaned text: [CLS], its first contextLength - 2 pieces, [SEP]. */
  encodeCleaned(cleaned: string): number[] {
    const pieces = this.pieces(cleaned);
    const kept = pieces.length > this.spec.contextLength - 2 ? pieces.slice(0, this.spec.contextLength - 2) : pieces;
    return [this.spec.clsId, ...kept, this.spec.sepId];
  }

  encode(raw: string): TokenizedText {
    const cleaned = cleanText(raw);
    return { cleaned, ids: this.encodeCleaned(cleaned) };
  }
}
