/**
 * `unimed embed`: every image of a folder or manifest through POST /embed/image (multipart batches, bounded
 * concurrency) into embeddings.npy + index.csv + meta.json + errors.csv; resumable, shardable. Layout and the
 * resume journal: ./store.ts. `unimed embed merge`: ./merge.ts.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMMON_HELP,
  CommandError,
  IMAGE_HELP,
  IMAGE_OPTIONS,
  UsageError,
  common,
  imageOptions,
  int,
  parse,
  required,
  str,
} from '../args.ts';
import { ApiError } from '../client.ts';
import type { ImageOptions, UnimedClient } from '../client.ts';
import { failureOf, isFatal, ModelGuard } from '../failures.ts';
import type { Failure } from '../failures.ts';
import { listImages, readManifest } from '../inputs.ts';
import type { Item } from '../inputs.ts';
import { forEachLimit } from '../pool.ts';
import { Progress } from '../progress.ts';
import { mergeCommand } from './merge.ts';
import { finishedRows, Journal, journalRows, metaText, readMeta, rowKey, rowOfKey, writeFinal } from './store.ts';
import type { Meta, RowRef } from './store.ts';

export const EMBED_HELP = `Usage: unimed embed --input PATH --out DIR [--shard I/N] [--batch-size N]
       unimed embed merge OUT SHARD_DIR...

Embeds every image of a folder (recursive: files named *.png, *.jpg, *.jpeg, *.tif, *.tiff, *.webp, *.dcm,
*.dicom, and DICOM Part 10 files of any name; hidden files skipped) or of a manifest CSV/TSV, in sorted path
order, through POST /embed/image, into DIR:
  embeddings.npy   float32 (rows, dim), L2-normalized; row i = data line i of index.csv
  index.csv        "path,frame", then one row per embedding: the path, relative to --input (or as the manifest
                   writes it), and the 0-based frame for a frame of a multi-frame DICOM object (else empty)
  meta.json        model id and sha256, dim, normalisation (and the rendering options, the shard)
  errors.csv       path,status,code,message of every image that failed (also printed as it happens)
A rerun with the same arguments resumes: what is embedded is kept (a run killed with kill -9 included), failed
images are tried again, and the result is the same as one uninterrupted run. It refuses to resume against a
model with another sha256. A multi-frame DICOM object gives one row per frame (without --frame; with --frame,
every image is sent that frame). Exit status 0 when every image was embedded or recorded in errors.csv.

  --input PATH         a folder, or a manifest .csv/.tsv with a path column (relative to the manifest's folder)
  --path-column NAME   the manifest's path column (default "path")
  --out DIR            the output folder (created)
  --shard I/N          only items i with i mod N = I (0-based) of the sorted list; join shards with
                       "unimed embed merge OUT SHARD_DIR..." (equal to one run over everything)
  --batch-size N       images per request, 1-256 (default 16; at most the service's MAX_IMAGES_PER_REQUEST)
  --batch-bytes N      bytes per request at most, except for a single larger image (default 8388608)

${IMAGE_HELP}

${COMMON_HELP}
`;

function shardOf(raw: string | undefined): { index: number; count: number } | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(raw);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (m === null || count < 1 || count > 100_000 || index >= count)
    throw new UsageError(`--shard must be I/N with 0 <= I < N, got "${raw}"`);
  return { index, count };
}

function renderingOf(options: ImageOptions): Record<string, string | number> | undefined {
  const entries = Object.entries(options).filter(([, v]) => v !== undefined) as [string, string | number][];
  return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The meta a run would write, from the service's model list; checked against an existing meta.json. */
async function planMeta(
  client: UnimedClient,
  model: string | undefined,
  rendering: ImageOptions,
  shard: Meta['shard'],
  previous: Meta | undefined,
): Promise<Meta> {
  let models;
  try {
    models = (await client.models()).body;
  } catch (error) {
    throw new CommandError(error instanceof ApiError ? `cannot list the service's models: ${error.message}` : String(error));
  }
  const id = model ?? previous?.model ?? models.default;
  const info = models.models.find((m) => m.id === id);
  if (info === undefined)
    throw new CommandError(`the service does not serve model ${id} (it serves ${models.models.map((m) => m.id).join(', ')})`);
  const meta: Meta = { model: info.id, model_sha256: info.sha256, dim: info.embed_dim, normalisation: 'l2', dtype: 'float32' };
  const r = renderingOf(rendering);
  if (r !== undefined) meta.rendering = r;
  if (shard !== undefined) meta.shard = shard;
  if (previous !== undefined) {
    if (previous.model_sha256 !== meta.model_sha256) {
      throw new CommandError(
        `refusing to resume: this output was embedded with model ${previous.model} sha256 ${previous.model_sha256}, the service now serves ${meta.model} sha256 ${meta.model_sha256}; use another --out`,
      );
    }
    if (metaText(previous) !== metaText(meta))
      throw new CommandError(
        `refusing to resume: meta.json says ${JSON.stringify(previous)}, this run would write ${JSON.stringify(meta)} (other options or shard); use the same arguments or another --out`,
      );
  }
  return meta;
}

/** Batches of consecutive items, at most `size` images and `bytes` bytes each (a larger single image alone). */
function batches(items: readonly Item[], size: number, bytes: number): Item[][] {
  const out: Item[][] = [];
  let batch: Item[] = [];
  let total = 0;
  for (const item of items) {
    let length = 0;
    try {
      length = statSync(item.file).size;
    } catch {
      // unreadable: it fails on its own when read
    }
    if (batch.length > 0 && (batch.length >= size || total + length > bytes)) {
      out.push(batch);
      batch = [];
      total = 0;
    }
    batch.push(item);
    total += length;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

export async function embedCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'merge') return mergeCommand(argv.slice(1));
  const parsed = parse(
    argv,
    {
      input: { type: 'string' },
      'path-column': { type: 'string' },
      out: { type: 'string' },
      shard: { type: 'string' },
      'batch-size': { type: 'string' },
      'batch-bytes': { type: 'string' },
      ...IMAGE_OPTIONS,
    },
    EMBED_HELP,
  );
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const input = required(values, 'input');
  const out = required(values, 'out');
  const shard = shardOf(str(values, 'shard'));
  const batchSize = int(values, 'batch-size', 16, 1, 256);
  const batchBytes = int(values, 'batch-bytes', 8 * 1024 * 1024, 1, 1024 * 1024 * 1024);
  const rendering = imageOptions(values);
  const shown: { progress?: Progress } = {};
  const { client, model, concurrency } = common(values, () => shown.progress);

  let all: Item[];
  if (existsSync(input) && statSync(input).isDirectory()) {
    const listing = listImages(input);
    if (listing.skipped.length > 0)
      process.stderr.write(
        `skipped ${listing.skipped.length} file(s) that are not images or are hidden: ${listing.skipped.slice(0, 5).join(', ')}${listing.skipped.length > 5 ? ', ...' : ''}\n`,
      );
    all = listing.items;
  } else {
    all = readManifest(input, str(values, 'path-column') ?? 'path');
  }
  const items = shard === undefined ? all : all.filter((_, i) => i % shard.count === shard.index);

  const previous = readMeta(out);
  const meta = await planMeta(client, model, rendering, shard, previous);
  mkdirSync(out, { recursive: true });
  if (previous === undefined) writeFileSync(join(out, 'meta.json'), metaText(meta));
  const rows = new Map<string, RowRef>([...(finishedRows(out, meta.dim) ?? []), ...journalRows(out, meta.dim)]);
  // Multi-frame objects with frames already embedded: their frame count is asked again (frame 0), the rest kept.
  const framed = new Set([...rows.keys()].map(rowOfKey).flatMap((row) => (row.frame === undefined ? [] : [row.path])));
  const todo = items.filter((item) => !rows.has(item.path));
  const failures: Failure[] = [];
  const guard = new ModelGuard({ model: meta.model, sha256: meta.model_sha256 });
  const journal = new Journal(out);
  const options = { ...rendering, model: meta.model };
  const already = items.filter((item) => rows.has(item.path) || framed.has(item.path)).length;
  if (already > 0) process.stderr.write(`resuming: ${already} of ${items.length} images already embedded in ${out}\n`);
  const progress = new Progress('images', todo.length);
  shown.progress = progress;

  const embed = async (batch: Item[]): Promise<void> => {
    const answer = await client.embedImages(
      batch.map((item) => ({ bytes: readFileSync(item.file), name: item.path })),
      options,
    );
    guard.check(answer.body.model, answer.modelSha256);
    const { embeddings } = answer.body;
    if (embeddings.length !== batch.length || embeddings.some((e) => e.length !== meta.dim)) {
      throw new CommandError(
        `the service answered ${embeddings.length} embeddings for ${batch.length} images (dim ${embeddings[0]?.length}, expected ${meta.dim})`,
      );
    }
    const refs = journal.append(batch.map((item, i) => ({ key: item.path, embedding: embeddings[i]! })));
    batch.forEach((item, i) => rows.set(item.path, refs[i]!));
    progress.add(batch.length);
  };
  // One request per frame: the frame parameter applies to every image of a request.
  const embedFrame = async (item: Item, bytes: Buffer, frame: number): Promise<number | undefined> => {
    const answer = await client.embedImages([{ bytes, name: item.path }], { ...options, frame });
    guard.check(answer.body.model, answer.modelSha256);
    const embedding = answer.body.embeddings[0];
    if (answer.body.embeddings.length !== 1 || embedding?.length !== meta.dim)
      throw new CommandError(`the service answered ${answer.body.embeddings.length} embeddings for one frame (expected dim ${meta.dim})`);
    const key = rowKey(item.path, frame);
    if (!rows.has(key)) rows.set(key, journal.append([{ key, embedding }])[0]!);
    return answer.body.preprocessing[0]?.dicom?.frames;
  };
  const embedFrames = async (item: Item): Promise<void> => {
    const bytes = readFileSync(item.file);
    const frames = await embedFrame(item, bytes, 0);
    if (frames === undefined) throw new CommandError(`${item.path}: the service named no frame count for a multi-frame object`);
    for (let frame = 1; frame < frames; frame++) {
      try {
        if (!rows.has(rowKey(item.path, frame))) await embedFrame(item, bytes, frame);
      } catch (error) {
        if (error instanceof ApiError) throw new ApiError(error.status, error.code, `frame ${frame}: ${error.detail}`, error.field);
        throw error;
      }
    }
    progress.add(1);
  };
  /** Refused because it is a multi-frame object and no --frame was given: embedded frame by frame instead. */
  const multiFrame = (error: unknown): boolean =>
    rendering.frame === undefined && error instanceof ApiError && error.status === 400 && error.field === 'frame';
  const fail = (item: Item, error: unknown): void => {
    const failure = failureOf(item.path, error);
    failures.push(failure);
    progress.log(`failed: ${item.path}: ${failure.status === '' ? '' : `${failure.status} `}${failure.code}: ${failure.message}`);
    progress.add(0, 1);
  };
  const alone = async (item: Item, error?: unknown): Promise<void> => {
    try {
      if (error !== undefined && multiFrame(error)) return await embedFrames(item);
      try {
        await embed([item]);
      } catch (single) {
        if (!multiFrame(single)) throw single;
        await embedFrames(item);
      }
    } catch (failed) {
      if (isFatal(failed)) throw failed;
      fail(item, failed);
    }
  };
  try {
    await forEachLimit(batches(todo, batchSize, batchBytes), concurrency, async (batch) => {
      if (batch.length === 1 && framed.has(batch[0]!.path)) return alone(batch[0]!);
      try {
        await embed(batch);
      } catch (error) {
        if (isFatal(error)) throw error;
        if (batch.length === 1) return alone(batch[0]!, error);
        // One bad image fails its whole request: each image alone says which.
        for (const item of batch) await alone(item);
      }
    });
  } finally {
    journal.close();
    progress.finish();
  }

  const frameKeys = new Map<string, string[]>();
  for (const key of rows.keys()) {
    const row = rowOfKey(key);
    if (row.frame !== undefined) frameKeys.set(row.path, [...(frameKeys.get(row.path) ?? []), key]);
  }
  const byFrame = (a: string, b: string): number => rowOfKey(a).frame! - rowOfKey(b).frame!;
  const keys = items.flatMap((item) => (rows.has(item.path) ? [item.path] : (frameKeys.get(item.path) ?? []).sort(byFrame)));
  const embedded = items.filter((item) => rows.has(item.path) || frameKeys.has(item.path));
  writeFinal(
    out,
    meta,
    keys,
    rows,
    failures.sort((a, b) => (a.path < b.path ? -1 : 1)),
  );
  process.stdout.write(
    `${embedded.length} of ${items.length} images embedded (${already} before this run; ${keys.length} rows, frames of multi-frame objects one each), ${failures.length} failed${failures.length > 0 ? ' (errors.csv)' : ''}: ${out}\n`,
  );
  return 0;
}
