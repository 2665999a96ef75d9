/**
 * What `unimed calibrate` asks the service about each labelled image: POST /embed/image (the embedding, for the
 * Mahalanobis statistics) and POST /classify with each prompt set (each label's raw cosine `similarity`; never
 * the answer's `probability`, which a calibrated service has already temperature-scaled).
 */
import { readFileSync, statSync } from 'node:fs';
import { CommandError } from '../args.ts';
import type { ImageOptions, UnimedClient } from '../client.ts';
import { loadDataset, matchLabels } from '../eval/dataset.ts';
import { failureOf, isFatal } from '../failures.ts';
import type { Failure, ModelGuard } from '../failures.ts';
import type { Item } from '../inputs.ts';
import { readManifest } from '../inputs.ts';
import { forEachLimit } from '../pool.ts';
import type { Progress } from '../progress.ts';
import type { Observation, PromptSetFacts } from './fit.ts';
import { normalize } from './maths.ts';

/** `--prompt-set NAME` (true labels in the label column) or `NAME:COLUMN` (true labels in COLUMN of the CSV). */
export interface SetRequest {
  name: string;
  column: string | undefined;
}

export interface CalibrationItem extends Item {
  label: string;
  /** Per prompt set: the true label as the data writes it. */
  truths: Record<string, string>;
}

export function parseSetRequest(spec: string): SetRequest {
  const at = spec.indexOf(':');
  return at < 0 ? { name: spec, column: undefined } : { name: spec.slice(0, at), column: spec.slice(at + 1) };
}

/** The labelled images in path order (as `unimed eval` reads them): a folder per class, or a CSV/TSV manifest. */
export function loadItems(data: string, pathColumn: string, labelColumn: string, sets: readonly SetRequest[]): CalibrationItem[] {
  const columns = [...new Set(sets.flatMap((s) => (s.column === undefined ? [] : [s.column])))];
  let isFolder: boolean;
  try {
    isFolder = statSync(data).isDirectory();
  } catch (error) {
    throw new CommandError(`cannot read --data ${data}: ${(error as Error).message}`);
  }
  if (isFolder) {
    if (columns.length > 0) throw new CommandError(`--prompt-set NAME:COLUMN needs a CSV/TSV --data, not a folder`);
    const dataset = loadDataset(data, pathColumn, labelColumn);
    return dataset.items.map((x) => ({ ...x, truths: Object.fromEntries(sets.map((s) => [s.name, x.label])) }));
  }
  return readManifest(data, pathColumn, [labelColumn, ...columns]).map(({ path, file, row }) => {
    const truths = Object.fromEntries(sets.map((s) => [s.name, row[s.column ?? labelColumn]!]));
    for (const [name, value] of [['', row[labelColumn]!] as const, ...Object.entries(truths)])
      if ((value ?? '').trim() === '')
        throw new CommandError(`${data}: ${path} has an empty label${name === '' ? '' : ` for prompt set ${name}`}`);
    return { path, file, label: row[labelColumn]!, truths };
  });
}

/** For each prompt set, the index of each image's true label; throws naming any class that matches no label. */
export function truthIndices(items: readonly CalibrationItem[], sets: readonly PromptSetFacts[]): Map<string, Map<string, number>> {
  return new Map(
    sets.map((set) => {
      const classes = [...new Set(items.map((x) => x.truths[set.name]!))].sort();
      return [set.name, matchLabels(classes, set.labels, `prompt set "${set.name}"`)] as const;
    }),
  );
}

export interface Collected {
  observations: (Observation & { path: string })[];
  failures: Failure[];
}

export async function collect(
  items: readonly CalibrationItem[],
  sets: readonly PromptSetFacts[],
  context: {
    client: UnimedClient;
    model: string | undefined;
    concurrency: number;
    rendering: ImageOptions;
    guard: ModelGuard;
    progress: Progress;
  },
): Promise<Collected> {
  const { client, model, concurrency, rendering, guard, progress } = context;
  const truth = truthIndices(items, sets);
  const options = { ...rendering, ...(model === undefined ? {} : { model }) };
  const byIndex = new Array<(Observation & { path: string }) | undefined>(items.length);
  const failures: Failure[] = [];
  await forEachLimit(items, concurrency, async (item, index) => {
    try {
      const image = { bytes: readFileSync(item.file), name: item.path };
      const embedded = await client.embedImages([image], options);
      guard.check(embedded.body.model, embedded.modelSha256);
      const observation: Observation & { path: string } = {
        path: item.path,
        label: item.label,
        embedding: normalize(embedded.body.embeddings[0]!),
        sets: {},
      };
      for (const set of sets) {
        const answer = await client.classify(image, { prompt_set: set.name, ...options });
        guard.check(answer.body.model, answer.modelSha256);
        const cos = set.labels.map((label) => answer.body.predictions.find((p) => p.label === label)?.similarity ?? Number.NaN);
        if (cos.some(Number.isNaN))
          throw new CommandError(
            `prompt set ${set.name}: the service answered labels ${answer.body.predictions.map((p) => p.label).join(', ')}`,
          );
        observation.sets[set.name] = { truth: truth.get(set.name)!.get(item.truths[set.name]!)!, cos };
      }
      byIndex[index] = observation;
      progress.add(1);
    } catch (error) {
      if (isFatal(error)) throw error;
      const failure = failureOf(item.path, error);
      failures.push(failure);
      progress.log(`failed: ${item.path}: ${failure.message}`);
      progress.add(0, 1);
    }
  });
  progress.finish();
  failures.sort((a, b) => (a.path < b.path ? -1 : 1));
  return { observations: byIndex.filter((x) => x !== undefined), failures };
}
