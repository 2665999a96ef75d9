/**
 * The labelled data of `unimed eval`: a folder with one sub-folder per class, or a CSV/TSV manifest with a path
 * and a label column; and the matching of its class names to the classifier's labels.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError } from '../args.ts';
import { byPath, listImages, readManifest } from '../inputs.ts';
import type { Item } from '../inputs.ts';

export interface LabelledItem extends Item {
  /** the class name as the data writes it */
  label: string;
}

export interface Dataset {
  items: LabelledItem[];
  /** said on stderr: files that are not images, files outside any class folder */
  skipped: string[];
}

export function loadDataset(data: string, pathColumn: string, labelColumn: string): Dataset {
  let isFolder: boolean;
  try {
    isFolder = statSync(data).isDirectory();
  } catch (error) {
    throw new CommandError(`cannot read --data ${data}: ${(error as Error).message}`);
  }
  if (!isFolder) {
    const items = readManifest(data, pathColumn, [labelColumn]).map(({ path, file, row }) => ({ path, file, label: row[labelColumn]! }));
    const empty = items.find((x) => x.label.trim() === '');
    if (empty !== undefined) throw new CommandError(`${data}: ${empty.path} has an empty ${labelColumn}`);
    return { items, skipped: [] };
  }
  const items: LabelledItem[] = [];
  const skipped: string[] = [];
  for (const entry of readdirSync(data, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    if (!entry.isDirectory()) {
      skipped.push(entry.name);
      continue;
    }
    const listing = listImages(join(data, entry.name));
    items.push(...listing.items.map((x) => ({ path: `${entry.name}/${x.path}`, file: x.file, label: entry.name })));
    skipped.push(...listing.skipped.map((p) => `${entry.name}/${p}`));
  }
  return { items: items.sort(byPath), skipped };
}

/** Lower-cased, everything but letters and digits dropped: "X-Ray" and "xray" are one class. */
export function labelKey(name: string): string {
  return name.toLowerCase().replace(/[^\p{L}\p{N}]/gu, '');
}

/**
 * For every class name of the data, the index of the classifier label it matches by labelKey. Throws a
 * CommandError listing every class that matches no label (or two), and the labels there are.
 */
export function matchLabels(classes: readonly string[], labels: readonly string[], what: string): Map<string, number> {
  const byKey = new Map<string, number[]>();
  labels.forEach((label, i) => byKey.set(labelKey(label), [...(byKey.get(labelKey(label)) ?? []), i]));
  const match = new Map<string, number>();
  const unmatched: string[] = [];
  const ambiguous: string[] = [];
  for (const name of classes) {
    const found = byKey.get(labelKey(name)) ?? [];
    if (found.length === 1) match.set(name, found[0]!);
    else if (found.length === 0) unmatched.push(name);
    else ambiguous.push(`${name} (${found.map((i) => labels[i]).join(', ')})`);
  }
  if (unmatched.length > 0 || ambiguous.length > 0) {
    const lines = [`the data's classes do not match the labels of ${what}:`];
    if (unmatched.length > 0) lines.push(`  no label for: ${unmatched.join(', ')}`);
    if (ambiguous.length > 0) lines.push(`  more than one label for: ${ambiguous.join('; ')}`);
    lines.push(`  labels of ${what}: ${labels.join(', ')}`);
    lines.push('  (names match after lower-casing and dropping everything but letters and digits)');
    throw new CommandError(lines.join('\n'));
  }
  return match;
}
