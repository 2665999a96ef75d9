/**
 * The files of an embedded archive, and the journal that makes `embed` resumable:
 *
 *   OUT/meta.json         model id and sha256, dim, normalisation (written first; a rerun checks it)
 *   OUT/index.csv         header `path,frame`, then one row per row of embeddings.npy: the path, and the frame
 *                         (0-based) for a frame of a multi-frame DICOM object, else empty
 *   OUT/embeddings.npy    float32 (rows, dim)
 *   OUT/errors.csv        path,status,code,message of every image that failed
 *   OUT/.unimed-embed/journal.bin   while running: every embedded row, appended as its batch comes back
 *
 * A journal record is [u32 payload length][u32 crc32 of payload][u16 key length][key, UTF-8][dim float32 LE]; the
 * key is the path, followed by NUL and the frame number for a frame of a multi-frame object (rowKey).
 * After a kill (-9 included) the journal ends at a whole record or inside one; reading stops at the first
 * record that is short or fails its checksum, and the file is cut there. The final files are written to
 * temporaries and renamed, and only then is the journal deleted, so every state a kill can leave is resumable.
 */
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CommandError } from '../args.ts';
import { formatCsv, records } from '../csv.ts';
import { npyHeader, readNpy } from '../npy.ts';
import type { Failure } from '../failures.ts';

export interface Meta {
  model: string;
  model_sha256: string;
  dim: number;
  normalisation: 'l2';
  dtype: 'float32';
  /** the rendering options sent with every image, when any */
  rendering?: Record<string, string | number>;
  /** only in a shard's directory */
  shard?: { index: number; count: number };
}

const JOURNAL_DIR = '.unimed-embed';

/** One row of the output: an image, or one frame of a multi-frame DICOM object. */
export interface Row {
  path: string;
  frame?: number | undefined;
}

/** A row's key in the journal and the row maps (NUL cannot occur in a path). */
export function rowKey(path: string, frame?: number): string {
  return frame === undefined ? path : `${path}\0${frame}`;
}

export function rowOfKey(key: string): Row {
  const at = key.indexOf('\0');
  return at < 0 ? { path: key } : { path: key.slice(0, at), frame: Number(key.slice(at + 1)) };
}

/** index.csv's frame column: empty for an image that is not a frame. */
function frameOf(cell: string | undefined): number | undefined {
  return cell === undefined || cell === '' ? undefined : Number(cell);
}

export function indexCsv(rows: readonly Row[]): string {
  return formatCsv([['path', 'frame'], ...rows.map((r) => [r.path, r.frame === undefined ? '' : String(r.frame)])]);
}

/** Where each embedded row's floats are: a byte offset in the journal or in an existing embeddings.npy. */
export interface RowRef {
  file: string;
  offset: number;
}

export function journalPath(out: string): string {
  return join(out, JOURNAL_DIR, 'journal.bin');
}

export function readMeta(dir: string): Meta | undefined {
  const file = join(dir, 'meta.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Meta;
  } catch (error) {
    throw new CommandError(`${file} is not readable JSON: ${(error as Error).message}`);
  }
}

export function metaText(meta: Meta): string {
  return JSON.stringify(meta, null, 2) + '\n';
}

/** The rows of a finished output (index.csv + embeddings.npy), if both are there and agree. */
export function finishedRows(dir: string, dim: number): Map<string, RowRef> | undefined {
  const index = join(dir, 'index.csv');
  const npy = join(dir, 'embeddings.npy');
  if (!existsSync(index) || !existsSync(npy)) return undefined;
  const keys = records(readFileSync(index, 'utf8'), ',', ['path'], index).map((r) => rowKey(r.path!, frameOf(r.frame)));
  const header = npyHeader(keys.length, dim).length;
  if (statSync(npy).size !== header + keys.length * dim * 4) return undefined;
  return new Map(keys.map((key, i) => [key, { file: npy, offset: header + i * dim * 4 }]));
}

/**
 * The journal's whole records (cutting a torn tail off the file), as row key -> where its floats are. Read one
 * record at a time, so a large journal is never held in memory.
 */
export function journalRows(out: string, dim: number): Map<string, RowRef> {
  const file = journalPath(out);
  const rows = new Map<string, RowRef>();
  if (!existsSync(file)) return rows;
  const fd = openSync(file, 'r+');
  try {
    const size = statSync(file).size;
    const head = Buffer.alloc(8);
    let at = 0;
    while (at + 8 <= size) {
      readSync(fd, head, 0, 8, at);
      const length = head.readUInt32LE(0);
      if (at + 8 + length > size) break;
      const payload = Buffer.alloc(length);
      readSync(fd, payload, 0, length, at + 8);
      if (crc32(payload) !== head.readUInt32LE(4)) break;
      const pathLength = payload.readUInt16LE(0);
      if (length !== 2 + pathLength + dim * 4) throw new CommandError(`${file} holds rows of another dimension than meta.json's ${dim}`);
      rows.set(payload.toString('utf8', 2, 2 + pathLength), { file, offset: at + 10 + pathLength });
      at += 8 + length;
    }
    if (at < size) ftruncateSync(fd, at);
  } finally {
    closeSync(fd);
  }
  return rows;
}

/** Appends one batch's rows to the journal in one write. Returns where each row's floats went. */
export class Journal {
  readonly #file: string;
  readonly #fd: number;
  #size: number;

  constructor(out: string) {
    this.#file = journalPath(out);
    mkdirSync(join(out, JOURNAL_DIR), { recursive: true });
    this.#fd = openSync(this.#file, 'a');
    this.#size = statSync(this.#file).size;
  }

  append(rows: { key: string; embedding: readonly number[] }[]): RowRef[] {
    const refs: RowRef[] = [];
    const chunks = rows.map(({ key, embedding }) => {
      const name = Buffer.from(key, 'utf8');
      const payload = Buffer.alloc(2 + name.length + embedding.length * 4);
      payload.writeUInt16LE(name.length, 0);
      name.copy(payload, 2);
      embedding.forEach((v, i) => payload.writeFloatLE(v, 2 + name.length + i * 4));
      const head = Buffer.alloc(8);
      head.writeUInt32LE(payload.length, 0);
      head.writeUInt32LE(crc32(payload), 4);
      refs.push({ file: this.#file, offset: this.#size + 8 + 2 + name.length });
      this.#size += 8 + payload.length;
      return Buffer.concat([head, payload]);
    });
    writeSync(this.#fd, Buffer.concat(chunks));
    return refs;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function writeAtomically(file: string, write: (tmp: string) => void): void {
  const tmp = `${file}.tmp`;
  write(tmp);
  renameSync(tmp, file);
}

/**
 * Writes index.csv, embeddings.npy (rows read from wherever they are), errors.csv and meta.json for the row
 * `keys` in the given (sorted) order, then removes the journal.
 */
export function writeFinal(
  out: string,
  meta: Meta,
  keys: readonly string[],
  rows: ReadonlyMap<string, RowRef>,
  failures: readonly Failure[],
): void {
  const rowBytes = meta.dim * 4;
  // index.csv goes first, so that a kill before the new one is in place leaves no pair of index.csv and
  // embeddings.npy that could be mistaken for each other (the next run then embeds those rows again).
  rmSync(join(out, 'index.csv'), { force: true });
  writeAtomically(join(out, 'embeddings.npy'), (tmp) => {
    const fd = openSync(tmp, 'w');
    const sources = new Map<string, number>();
    try {
      writeSync(fd, npyHeader(keys.length, meta.dim));
      const row = Buffer.alloc(rowBytes);
      for (const key of keys) {
        const ref = rows.get(key)!;
        let source = sources.get(ref.file);
        if (source === undefined) sources.set(ref.file, (source = openSync(ref.file, 'r')));
        if (readSync(source, row, 0, rowBytes, ref.offset) !== rowBytes)
          throw new CommandError(`${ref.file} is shorter than its index says`);
        writeSync(fd, row);
      }
    } finally {
      closeSync(fd);
      for (const source of sources.values()) closeSync(source);
    }
  });
  writeAtomically(join(out, 'index.csv'), (tmp) => writeFileSync(tmp, indexCsv(keys.map(rowOfKey))));
  writeAtomically(join(out, 'errors.csv'), (tmp) =>
    writeFileSync(tmp, formatCsv([['path', 'status', 'code', 'message'], ...failures.map((f) => [f.path, f.status, f.code, f.message])])),
  );
  writeAtomically(join(out, 'meta.json'), (tmp) => writeFileSync(tmp, metaText(meta)));
  rmSync(join(out, JOURNAL_DIR), { recursive: true, force: true });
}

/** A finished output's rows, for merging and searching: in order, and the float32 data. */
export function readFinished(dir: string): { meta: Meta; rows: Row[]; data: Float32Array; failures: Failure[] } {
  const meta = readMeta(dir);
  if (meta === undefined) throw new CommandError(`${dir} has no meta.json (not an embed output)`);
  if (existsSync(journalPath(dir)))
    throw new CommandError(`${dir} is not finished (its run was interrupted): run the same embed command again first`);
  const rows = records(readFileSync(join(dir, 'index.csv'), 'utf8'), ',', ['path'], join(dir, 'index.csv')).map((r) => ({
    path: r.path!,
    frame: frameOf(r.frame),
  }));
  const npy = readNpy(join(dir, 'embeddings.npy'));
  if (npy.rows !== rows.length || npy.cols !== meta.dim)
    throw new CommandError(
      `${dir}: embeddings.npy is (${npy.rows}, ${npy.cols}), index.csv has ${rows.length} rows and meta.json dim ${meta.dim}`,
    );
  const failures = records(
    readFileSync(join(dir, 'errors.csv'), 'utf8'),
    ',',
    ['path', 'status', 'code', 'message'],
    join(dir, 'errors.csv'),
  ).map((r) => ({
    path: r.path!,
    status: r.status === '' ? ('' as const) : Number(r.status),
    code: r.code!,
    message: r.message!,
  }));
  return { meta, rows, data: npy.data, failures };
}
