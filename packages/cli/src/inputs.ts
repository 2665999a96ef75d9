/**
 * Which files a command works on: the images under a folder (recursive), or the rows of a manifest CSV/TSV.
 * Paths are kept relative (to the folder, or to the manifest's directory), with `/` separators, and sorted by
 * code unit, so every run (and every shard) sees the same list in the same order.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, relative, sep } from 'node:path';
import { CommandError } from './args.ts';
import { delimiterOf, records } from './csv.ts';

export interface Item {
  /** As written in index.csv: relative to the folder or manifest, `/`-separated. */
  path: string;
  /** Where to read it. */
  file: string;
}

/** Extensions taken as images without looking; any other file is taken only when it is DICOM Part 10. */
const IMAGE_EXTENSIONS = /\.(png|jpe?g|tiff?|webp|dcm|dicom)$/i;

export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** A DICOM Part 10 file: "DICM" after the 128-byte preamble (archives often have files without extension). */
function isPart10(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(132);
    return readSync(fd, head, 0, 132, 0) === 132 && head.toString('latin1', 128, 132) === 'DICM';
  } finally {
    closeSync(fd);
  }
}

export interface Listing {
  items: Item[];
  /** Files that are not images (by extension or preamble), and hidden files: said on stderr, never silently. */
  skipped: string[];
}

/** Every image under `root`, recursively; hidden files and folders (names starting with ".") are skipped. */
export function listImages(root: string): Listing {
  let entries;
  try {
    if (!statSync(root).isDirectory()) throw new CommandError(`${root} is not a folder`);
    entries = readdirSync(root, { recursive: true, withFileTypes: false, encoding: 'utf8' });
  } catch (error) {
    if (error instanceof CommandError) throw error;
    throw new CommandError(`cannot read ${root}: ${(error as Error).message}`);
  }
  const items: Item[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    const path = entry.split(sep).join('/');
    const file = join(root, entry);
    if (!statSync(file).isFile()) continue;
    if (path.split('/').some((part) => part.startsWith('.'))) skipped.push(path);
    else if (IMAGE_EXTENSIONS.test(path) || isPart10(file)) items.push({ path, file });
    else skipped.push(path);
  }
  return { items: items.sort(byPath), skipped: skipped.sort() };
}

/** A manifest's rows: `pathColumn` relative to the manifest's directory (or absolute), plus the other columns. */
export function readManifest(
  manifest: string,
  pathColumn: string,
  otherColumns: string[] = [],
): (Item & { row: Record<string, string> })[] {
  let text: string;
  try {
    text = readFileSync(manifest, 'utf8');
  } catch (error) {
    throw new CommandError(`cannot read ${manifest}: ${(error as Error).message}`);
  }
  let rows;
  try {
    rows = records(text, delimiterOf(manifest), [pathColumn, ...otherColumns], manifest);
  } catch (error) {
    throw new CommandError((error as Error).message);
  }
  const base = dirname(manifest);
  const seen = new Set<string>();
  const items = rows.map((row, i) => {
    const raw = row[pathColumn]!;
    if (raw.trim() === '') throw new CommandError(`${manifest} line ${i + 2}: empty ${pathColumn}`);
    const path = normalize(raw).split(sep).join('/');
    if (seen.has(path)) throw new CommandError(`${manifest} line ${i + 2}: ${path} is listed twice`);
    seen.add(path);
    return { path, file: isAbsolute(raw) ? raw : join(base, raw), row };
  });
  return items.sort(byPath);
}

/** A path as index.csv would write it for a file under `root` (for messages). */
export function relativeTo(root: string, file: string): string {
  return relative(root, file).split(sep).join('/');
}
