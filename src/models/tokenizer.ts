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

// What BertPreTokenizer splits off as one piece each (the library's own definition); whitespace that still
// separates words after BertNormalizer (which deletes U+FEFF and other format characters instead); characters
// that no normalization step removes (controls, private use, unassigned and Mn marks can vanish; these cannot).
const BERT_PUNCTUATION = /[\p{P}\u0021-\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007E]/u;
const WORD_SEPARATOR = /[\t\n\r\u2028\u2029\p{Zs}]/u;
const SURVIVES_NORMALIZATION = /[\p{L}\p{N}\p{S}]/u;

/**
 * The shortest whitespace-ended prefix of a cleaned text that is sure to yield at least `pieces` word pieces,
 * or the whole text. Words are tokenized independently, each punctuation mark is one piece and every other
 * run holding a character that survives normalization is at least one, so the prefix's first `pieces` pieces
 * are the whole text's: truncation gives the same ids, and a text of megabytes costs a few hundred words.
 */
export function cutToPieceBudget(cleaned: string, pieces: number): string {
  if (cleaned.length <= pieces) return cleaned;
  let sure = 0;
  let runCounted = false;
  let index = 0;
  for (const char of cleaned) {
    if (WORD_SEPARATOR.test(char)) {
      if (sure >= pieces) return cleaned.slice(0, index);
      runCounted = false;
    } else if (BERT_PUNCTUATION.test(char)) {
      sure++;
      runCounted = false;
    } else if (!runCounted && SURVIVES_NORMALIZATION.test(char)) {
      sure++;
      runCounted = true;
    }
    index += char.length;
  }
  return cleaned;
}

/** The tokenizer.json layout models/README.md fixes; cutToPieceBudget relies on exactly these steps. */
function checkContractLayout(json: Record<string, unknown>, file: string): void {
  const type = (key: string): unknown => (json[key] as { type?: unknown } | null | undefined)?.type;
  const expected = { normalizer: 'BertNormalizer', pre_tokenizer: 'BertPreTokenizer', model: 'WordPiece' } as const;
  for (const [key, want] of Object.entries(expected)) {
    if (type(key) !== want) throw new Error(`${file}: ${key} must be ${want} (models/README.md), found ${String(type(key))}`);
  }
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
    const json = JSON.parse(await readFile(join(dir, tokenizerFile), 'utf8')) as Record<string, unknown>;
    checkContractLayout(json, tokenizerFile);
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
    const budget = this.spec.contextLength - 2;
    const pieces = this.pieces(cutToPieceBudget(cleaned, budget));
    const kept = pieces.length > budget ? pieces.slice(0, budget) : pieces;
    return [this.spec.clsId, ...kept, this.spec.sepId];
  }

  encode(raw: string): TokenizedText {
    const cleaned = cleanText(raw);
    return { cleaned, ids: this.encodeCleaned(cleaned) };
  }
}
