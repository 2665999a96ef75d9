import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLEANING_ID } from './clean.ts';

/** model.json, format_version 1 (models/README.md), after validation. */
export interface Manifest {
  format_version: 1;
  id: string;
  embed_dim: number;
  logit_scale: number;
  image: { file: string; input: string; output: string; size: number; resize: string; mean: [number, number, number]; std: [number, number, number] };
  text: {
    file: string; input_ids: string; attention_mask: string; output: string; tokenizer: string; cleaning: string;
    context_length: number; pad_id: number; cls_id: number; sep_id: number;
  };
  files: Record<string, string>;
  golden: { file: string; text_min_cosine: number; image_exact_min_cosine: number; image_resized_min_cosine: number };
  intended_use: string;
  /** Whether the model is cleared for diagnostic use; absent in model.json means not (the page says so). */
  diagnostic_use: boolean;
  /** Whether the model's embeddings may be cut to fewer dimensions (`/v1/embeddings` `dimensions`); absent means not. */
  embedding_truncation: boolean;
  /** `provenance.exported_at` as Unix seconds, when the export wrote a valid date (`GET /v1/models` `created`). */
  exported_at?: number;
  evaluation?: Record<string, unknown>;
}

type Json = Record<string, unknown>;

class ManifestReader {
  readonly #path: string;
  constructor(path: string) {
    this.#path = path;
  }
  fail(field: string, what: string): never {
    throw new Error(`${this.#path}: "${field}" ${what}`);
  }
  object(obj: Json, field: string, prefix = ''): Json {
    const v = obj[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(prefix + field, 'must be an object');
    return v as Json;
  }
  string(obj: Json, field: string, prefix = ''): string {
    const v = obj[field];
    if (typeof v !== 'string' || v === '') this.fail(prefix + field, 'must be a non-empty string');
    return v;
  }
  number(obj: Json, field: string, prefix = '', check: (n: number) => boolean = Number.isFinite, what = 'a finite number'): number {
    const v = obj[field];
    if (typeof v !== 'number' || !check(v)) this.fail(prefix + field, `must be ${what}`);
    return v;
  }
  int(obj: Json, field: string, prefix = '', min = 0): number {
    return this.number(obj, field, prefix, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`);
  }
  triple(obj: Json, field: string, prefix: string): [number, number, number] {
    const v = obj[field];
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(prefix + field, 'must be an array of 3 numbers');
    }
    return v as [number, number, number];
  }
  /** A file named by the manifest: a plain name inside the directory, listed in `files`. */
  file(obj: Json, field: string, prefix: string, files: Record<string, string>): string {
    const name = this.string(obj, field, prefix);
    if (!(name in files)) this.fail(prefix + field, `names ${name}, which is not listed in "files"`);
    return name;
  }
}

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** Reads and validates `<dir>/model.json`; every message names the file and the field. */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, 'model.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the manifest: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const r: ManifestReader = new ManifestReader(path);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) r.fail('.', 'must be a JSON object');
  const m = raw as Json;
  if (m.format_version !== 1) r.fail('format_version', `must be 1 (got ${JSON.stringify(m.format_version)})`);

  const filesObj = r.object(m, 'files');
  const files: Record<string, string> = {};
  for (const [name, hash] of Object.entries(filesObj)) {
    // Names are joined to the model directory: nothing may point outside it.
    if (!SAFE_NAME.test(name) || name === '.' || name === '..') r.fail(`files.${name}`, 'is not a plain file name');
    if (typeof hash !== 'string' || !SHA256.test(hash)) r.fail(`files.${name}`, 'must be a lower-case sha256 hex digest');
    files[name] = hash;
  }

  const image = r.object(m, 'image');
  const text = r.object(m, 'text');
  const golden = r.object(m, 'golden');
  const cleaning = r.string(text, 'cleaning', 'text.');
  if (cleaning !== CLEANING_ID) r.fail('text.cleaning', `is "${cleaning}", this service implements only "${CLEANING_ID}"`);
  const resize = r.string(image, 'resize', 'image.');
  if (resize !== 'shortest_side_bicubic_center_crop') r.fail('image.resize', `"${resize}" is not a known transform`);
  const cosine = (field: string): number =>
    r.number(golden, field, 'golden.', (n) => n > 0 && n <= 1, 'a cosine in (0, 1]');
  const contextLength = r.int(text, 'context_length', 'text.', 3);
  const intendedUse = m.intended_use;
  if (m.diagnostic_use !== undefined && typeof m.diagnostic_use !== 'boolean') r.fail('diagnostic_use', 'must be true or false');
  if (m.embedding_truncation !== undefined && typeof m.embedding_truncation !== 'boolean')
    r.fail('embedding_truncation', 'must be true or false');
  // Informational (models/README.md): read when it is a date, never a reason to refuse the model.
  const exported = (m.provenance as { exported_at?: unknown } | null | undefined)?.exported_at;
  const exportedMs = typeof exported === 'string' ? Date.parse(exported) : Number.NaN;

  return {
    format_version: 1,
    id: r.string(m, 'id'),
    embed_dim: r.int(m, 'embed_dim', '', 1),
    logit_scale: r.number(m, 'logit_scale', '', (n) => Number.isFinite(n) && n > 0, 'a positive number'),
    image: {
      file: r.file(image, 'file', 'image.', files),
      input: r.string(image, 'input', 'image.'),
      output: r.string(image, 'output', 'image.'),
      size: r.int(image, 'size', 'image.', 1),
      resize,
      mean: r.triple(image, 'mean', 'image.'),
      std: r.triple(image, 'std', 'image.'),
    },
    text: {
      file: r.file(text, 'file', 'text.', files),
      input_ids: r.string(text, 'input_ids', 'text.'),
      attention_mask: r.string(text, 'attention_mask', 'text.'),
      output: r.string(text, 'output', 'text.'),
      tokenizer: r.file(text, 'tokenizer', 'text.', files),
      cleaning,
      context_length: contextLength,
      pad_id: r.int(text, 'pad_id', 'text.'),
      cls_id: r.int(text, 'cls_id', 'text.'),
      sep_id: r.int(text, 'sep_id', 'text.'),
    },
    files,
    golden: {
      file: r.file(golden, 'file', 'golden.', files),
      text_min_cosine: cosine('text_min_cosine'),
      image_exact_min_cosine: cosine('image_exact_min_cosine'),
      image_resized_min_cosine: cosine('image_resized_min_cosine'),
    },
    intended_use: typeof intendedUse === 'string' ? intendedUse : '',
    diagnostic_use: m.diagnostic_use === true,
    embedding_truncation: m.embedding_truncation === true,
    ...(Number.isFinite(exportedMs) ? { exported_at: Math.floor(exportedMs / 1000) } : {}),
    ...(typeof m.evaluation === 'object' && m.evaluation !== null ? { evaluation: m.evaluation as Record<string, unknown> } : {}),
  };
}
