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
  num,
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
import { listImages } from '../inputs.ts';
import type { Item } from '../inputs.ts';
import { histogramSvg } from './histogram.ts';
import { trustFields, trustReport, trustText } from './trust.ts';
import type { TrustFields } from './trust.ts';
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
  --coverage C         ask for prediction sets at coverage C (0 < C < 1; a calibrated prompt set) and report
                       their empirical coverage and mean size
  --ood DIR            also classify the images under DIR (any sub-folders; non-medical pictures) and report how
                       the answers' out_of_distribution.score separates them from the labelled images: AUROC,
                       FPR at 95% TPR, and the rates at the calibration's own threshold (ood-scores.svg)
  --out DIR            write report.json, predictions.csv, errors.csv, confusion.svg and reliability.svg

Abstentions (the answers' "abstained", by reason) are counted whenever the service calibrates; a service
without a calibration answers no trust fields, and the report says so.

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
      coverage: { type: 'string' },
      ood: { type: 'string' },
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
  let coverage = num(values, 'coverage');
  if (coverage !== undefined && !(coverage > 0 && coverage < 1)) throw new UsageError(`--coverage must be in (0, 1), got ${coverage}`);
  if (coverage !== undefined && promptSet === undefined)
    throw new UsageError('--coverage needs --prompt-set (inline labels have no calibration)');
  const oodDir = str(values, 'ood');
  const oodItems: Item[] = oodDir === undefined ? [] : listImages(oodDir).items;
  if (oodDir !== undefined && oodItems.length === 0) throw new CommandError(`no images under --ood ${oodDir}`);
  const notes: string[] = [];
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
  if (coverage !== undefined) {
    const models = (await guarded(() => client.models())).body;
    const info = models.models.find((m) => m.id === (model ?? models.default)) as
      { calibration?: { prompt_sets?: string[] } | null } | undefined;
    if (info?.calibration?.prompt_sets?.includes(promptSet!) !== true) {
      notes.push(`prompt set "${promptSet}" has no calibration on the service (GET /models): no prediction sets asked for`);
      coverage = undefined;
    }
  }
  const request: ClassifyOptions & { coverage?: number } =
    promptSet !== undefined
      ? { prompt_set: promptSet, ...(coverage === undefined ? {} : { coverage }) }
      : { labels, ...(templates.length > 0 ? { templates } : {}) };

  const scored: (Scored & { item: LabelledItem; fields: TrustFields })[] = [];
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
      scored.push({ item, truth: truthOf.get(item.label)!, predicted, probabilities, fields: trustFields(answer.body) });
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
  const oodFields: TrustFields[] = [];
  if (oodDir !== undefined) {
    const oodProgress = new Progress('OOD images', oodItems.length);
    shown.progress = oodProgress;
    await forEachLimit(oodItems, concurrency, async (item) => {
      try {
        const answer = await client.classify(
          { bytes: readFileSync(item.file), name: item.path },
          { ...request, ...rendering, ...(model === undefined ? {} : { model }) },
        );
        guard.check(answer.body.model, answer.modelSha256);
        oodFields.push(trustFields(answer.body));
        oodProgress.add(1);
      } catch (error) {
        if (isFatal(error)) throw error;
        const failure = failureOf(`ood:${item.path}`, error);
        failures.push(failure);
        oodProgress.log(`failed: ${failure.path}: ${failure.message}`);
        oodProgress.add(0, 1);
      }
    });
    oodProgress.finish();
  }
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
    trust: trustReport(
      scored.map((s) => ({ truth: labels[s.truth]!, fields: s.fields })),
      oodDir === undefined ? undefined : oodFields,
      coverage,
    ),
  };
  report.trust.notes.unshift(...notes);
  process.stdout.write(reportTables(report));
  process.stdout.write(trustText(report.trust));
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
    const ood = report.trust.ood;
    if (ood !== null)
      writeFileSync(
        join(out, 'ood-scores.svg'),
        histogramSvg(
          [
            {
              name: 'labelled images',
              values: scored.flatMap((s) => (s.fields.out_of_distribution == null ? [] : [s.fields.out_of_distribution.score])),
              colour: '#4a7fd4',
            },
            {
              name: `--ood images`,
              values: oodFields.flatMap((f) => (f.out_of_distribution == null ? [] : [f.out_of_distribution.score])),
              colour: '#e0533d',
            },
          ],
          [{ name: 'calibration threshold', value: ood.calibration_threshold, colour: '#333' }],
          `Out-of-distribution score (${title}), AUROC ${ood.auroc?.toFixed(3) ?? 'n/a'}`,
          'out_of_distribution.score',
          true,
        ),
      );
    process.stderr.write(
      `wrote report.json, predictions.csv, errors.csv, confusion.svg, reliability.svg${ood === null ? '' : ', ood-scores.svg'} to ${out}\n`,
    );
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
