/**
 * `unimed eval`: zero-shot classification of labelled data through a running service's /classify (the
 * paper's protocol: template ensemble per class, softmax over the classes), and the report of how it did.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMMON_HELP,
  CommandError,
  IMAGE_HELP,
  IMAGE_OPTIONS,
  UsageError,
  common,
  imageOptions,
  list,
  parse,
  required,
  str,
} from '../args.ts';
import { ApiError } from '../client.ts';
import type { ClassifyOptions } from '../client.ts';
import { formatCsv } from '../csv.ts';
import { forEachLimit } from '../pool.ts';
import { Progress } from '../progress.ts';
import { loadDataset, matchLabels } from './dataset.ts';
import type { LabelledItem } from './dataset.ts';
import { computeMetrics } from './metrics.ts';
import type { Scored } from './metrics.ts';
import { reportTables } from './tables.ts';
import { confusionSvg, reliabilitySvg } from './svg.ts';
import { failureOf, isFatal, ModelGuard } from '../failures.ts';
import type { Failure } from '../failures.ts';

export const EVAL_HELP = `Usage: unimed eval --data PATH (--prompt-set NAME | --labels L --labels L ... [--templates T ...]) [--out DIR]

Classifies every image of labelled data through POST /classify and reports accuracy, balanced accuracy,
per-class precision/recall/F1 and one-vs-rest AUROC, macro AUROC, expected calibration error (15 bins of the
top-1 probability) and the confusion matrix.

  --data PATH          a folder with one sub-folder of images per class, or a CSV/TSV manifest (paths relative
                       to the manifest's folder)
  --path-column NAME   the manifest's path column (default "path")
  --label-column NAME  the manifest's class column (default "label")
  --prompt-set NAME    classify against a prompt set of the model (GET /prompt-sets); the data's class names
                       must match its labels after lower-casing and dropping all but letters and digits
  --labels LABEL       a label (repeat the flag for each); without --labels and --prompt-set, the data's class
                       names are the labels
  --templates T        a template containing {} (repeat for each); default "{}" (the label alone)
  --out DIR            write report.json, predictions.csv, errors.csv, confusion.svg and reliability.svg

${IMAGE_HELP}

${COMMON_HELP}
`;

export async function evalCommand(argv: string[]): Promise<number> {
  const parsed = parse(
    argv,
    {
      data: { type: 'string' },
      'path-column': { type: 'string' },
      'label-column': { type: 'string' },
      'prompt-set': { type: 'string' },
      labels: { type: 'string', multiple: true },
      templates: { type: 'string', multiple: true },
      out: { type: 'string' },
      ...IMAGE_OPTIONS,
    },
    EVAL_HELP,
  );
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const data = required(values, 'data');
  const promptSet = str(values, 'prompt-set');
  const inlineLabels = list(values, 'labels');
  const templates = list(values, 'templates');
  if (promptSet !== undefined && (inlineLabels.length > 0 || templates.length > 0))
    throw new UsageError('give --prompt-set or --labels/--templates, not both');
  const out = str(values, 'out');
  const rendering = imageOptions(values);
  const shown: { progress?: Progress } = {};
  const { client, model, concurrency } = common(values, () => shown.progress);

  const dataset = loadDataset(data, str(values, 'path-column') ?? 'path', str(values, 'label-column') ?? 'label');
  if (dataset.skipped.length > 0)
    process.stderr.write(
      `skipped ${dataset.skipped.length} file(s) that are not images in a class folder: ${dataset.skipped.slice(0, 5).join(', ')}${dataset.skipped.length > 5 ? ', ...' : ''}\n`,
    );
  if (dataset.items.length === 0) throw new CommandError(`no images in ${data}`);
  const classes = [...new Set(dataset.items.map((x) => x.label))].sort();

  let labels: string[];
  let what: string;
  let promptSetInfo: { name: string; version: string } | null = null;
  if (promptSet !== undefined) {
    const sets = (await guarded(() => client.promptSets(model))).body.prompt_sets;
    const set = sets.find((s) => s.name === promptSet);
    if (set === undefined)
      throw new CommandError(
        `the service has no prompt set "${promptSet}"${model === undefined ? '' : ` for model ${model}`}; it has: ${[...new Set(sets.map((s) => s.name))].join(', ') || 'none'}`,
      );
    labels = set.labels;
    what = `prompt set "${promptSet}"`;
    promptSetInfo = { name: set.name, version: set.version };
  } else {
    labels = inlineLabels.length > 0 ? inlineLabels : classes;
    what = inlineLabels.length > 0 ? '--labels' : "the data's class names";
  }
  if (labels.length < 2) throw new CommandError(`classification needs at least 2 labels; ${what} has ${labels.length}`);
  const truthOf = matchLabels(classes, labels, what);
  const request: ClassifyOptions =
    promptSet !== undefined ? { prompt_set: promptSet } : { labels, ...(templates.length > 0 ? { templates } : {}) };

  const scored: (Scored & { item: LabelledItem })[] = [];
  const failures: Failure[] = [];
  const guard = new ModelGuard();
  const progress = new Progress('images', dataset.items.length);
  shown.progress = progress;
  await forEachLimit(dataset.items, concurrency, async (item) => {
    try {
      const bytes = readFileSync(item.file);
      const answer = await client.classify(
        { bytes, name: item.path },
        { ...request, ...rendering, ...(model === undefined ? {} : { model }) },
      );
      guard.check(answer.body.model, answer.modelSha256);
      const probabilities = labels.map((label) => answer.body.predictions.find((p) => p.label === label)?.probability ?? Number.NaN);
      const predicted = labels.indexOf(answer.body.predictions[0]?.label ?? '');
      if (predicted < 0 || probabilities.some(Number.isNaN))
        throw new CommandError(
          `the service answered labels ${answer.body.predictions.map((p) => p.label).join(', ')}, not ${labels.join(', ')}`,
        );
      scored.push({ item, truth: truthOf.get(item.label)!, predicted, probabilities });
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
  if (scored.length === 0) throw new CommandError(`every image failed (${failures.length}); nothing to report`);

  scored.sort((a, b) => (a.item.path < b.item.path ? -1 : 1));
  failures.sort((a, b) => (a.path < b.path ? -1 : 1));
  const metrics = computeMetrics(labels, scored);
  const report = {
    accuracy: metrics.accuracy,
    balanced_accuracy: metrics.balanced_accuracy,
    macro_auroc: metrics.macro_auroc,
    ece: metrics.ece,
    per_class: metrics.per_class,
    confusion: metrics.confusion,
    labels,
    n: metrics.n,
    failed: failures.length,
    model: guard.model ?? null,
    model_sha256: guard.sha256 ?? null,
    prompt_set: promptSetInfo,
  };
  process.stdout.write(reportTables(report));
  if (failures.length > 0)
    process.stdout.write(`\n${failures.length} image(s) failed and are not counted above${out === undefined ? '' : ' (errors.csv)'}\n`);
  if (out !== undefined) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(
      join(out, 'predictions.csv'),
      formatCsv([
        ['path', 'label', 'predicted', ...labels.map((l) => `p_${l}`)],
        ...scored.map((s) => [s.item.path, labels[s.truth]!, labels[s.predicted]!, ...s.probabilities]),
      ]),
    );
    writeFileSync(
      join(out, 'errors.csv'),
      formatCsv([['path', 'status', 'code', 'message'], ...failures.map((f) => [f.path, f.status, f.code, f.message])]),
    );
    const title = `${report.model ?? 'model'}${promptSetInfo === null ? '' : `, prompt set ${promptSetInfo.name}`}: ${metrics.n} images`;
    writeFileSync(
      join(out, 'confusion.svg'),
      confusionSvg(labels, metrics.confusion, `Confusion matrix (${title}, accuracy ${metrics.accuracy.toFixed(3)})`),
    );
    writeFileSync(
      join(out, 'reliability.svg'),
      reliabilitySvg(metrics.reliability, `Reliability (${title}, ECE ${metrics.ece.toFixed(3)})`),
    );
    process.stderr.write(`wrote report.json, predictions.csv, errors.csv, confusion.svg, reliability.svg to ${out}\n`);
  }
  return 0;
}

/** A request whose failure ends the command (listing models or prompt sets). */
async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw new CommandError(error.message);
    throw error;
  }
}
