/**
 * `unimed calibrate`: a model's calibration file (calibration.json and its sha256 sidecar; docs/cli.md) from
 * labelled images, through a running service, with a report.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  COMMON_HELP,
  CommandError,
  IMAGE_HELP,
  IMAGE_OPTIONS,
  UsageError,
  common,
  imageOptions,
  int,
  list,
  num,
  parse,
  required,
  str,
} from '../args.ts';
import { ApiError } from '../client.ts';
import { formatCsv } from '../csv.ts';
import { ModelGuard } from '../failures.ts';
import { Progress } from '../progress.ts';
import { collect, loadItems, parseSetRequest } from './collect.ts';
import { fit } from './fit.ts';
import type { ModelFacts, PromptSetFacts } from './fit.ts';
import { writeReport } from './report.ts';

export const CALIBRATE_HELP = `Usage: unimed calibrate --data PATH --prompt-set NAME[:COLUMN] [--prompt-set ...] --out DIR [options]

Fits a model's calibration (docs/trust.md) on labelled in-distribution images through the service: per image
POST /embed/image and POST /classify with each prompt set. The images are split at random into fold A (class
means and shared covariance of the embeddings; each prompt set's temperature, by minimum NLL) and fold B (the
out-of-distribution threshold; the conformal scores). Writes DIR/calibration.json, DIR/calibration.json.sha256,
DIR/report.md, report.json, errors.csv and SVG pictures. Copy the two calibration files into the model directory
and restart the service to use them.

  --data PATH          a folder with one sub-folder of images per class, or a CSV/TSV manifest
  --path-column NAME   the manifest's path column (default "path")
  --label-column NAME  the manifest's class column (default "label"): the classes of the detector's means, and
                       the true labels of each prompt set given without :COLUMN
  --prompt-set NAME[:COLUMN]  a prompt set to calibrate (repeat for each; the first gives the model-level
                       temperature); COLUMN (CSV only) holds that set's true labels when they are not the
                       label column's (e.g. --prompt-set finding:finding_label). Labels match the set's after
                       lower-casing and dropping all but letters and digits
  --out DIR            where to write (created)
  --coverage C         the coverage the report measures prediction sets at (default 0.9)
  --in-distribution-abstention R   share of in-distribution images the threshold abstains (default 0.04)
  --seed N             the fold split's seed (numpy RandomState(N).permutation, as bench/trust.py; default 0)
  --model-dir DIR      the served model's directory, to record its encoders' sha256 too (optional)

${IMAGE_HELP}

${COMMON_HELP}
`;

function fraction(values: Parameters<typeof str>[0], name: string, fallback: number): number {
  const v = num(values, name) ?? fallback;
  if (!(v > 0 && v < 1)) throw new UsageError(`--${name} must be a number in (0, 1), got ${v}`);
  return v;
}

async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw new CommandError(error.message);
    throw error;
  }
}

/** The encoders' sha256 from model.json, after checking that the directory is the served model. */
function encoderHashes(dir: string, served: string): Pick<ModelFacts, 'image_encoder_sha256' | 'text_encoder_sha256'> {
  let meta: { files: Record<string, string>; image: { file: string }; text: { file: string } };
  try {
    meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as typeof meta;
  } catch (error) {
    throw new CommandError(`cannot read ${join(dir, 'model.json')}: ${(error as Error).message}`);
  }
  const listing = Object.keys(meta.files)
    .sort()
    .map((n) => `${meta.files[n]}  ${n}\n`)
    .join('');
  const sha = createHash('sha256').update(listing).digest('hex');
  if (sha !== served) throw new CommandError(`--model-dir ${dir} holds model sha256 ${sha}, the service serves ${served}`);
  return { image_encoder_sha256: meta.files[meta.image.file], text_encoder_sha256: meta.files[meta.text.file] };
}

export async function calibrateCommand(argv: string[]): Promise<number> {
  const parsed = parse(
    argv,
    {
      data: { type: 'string' },
      'path-column': { type: 'string' },
      'label-column': { type: 'string' },
      'prompt-set': { type: 'string', multiple: true },
      out: { type: 'string' },
      coverage: { type: 'string' },
      'in-distribution-abstention': { type: 'string' },
      seed: { type: 'string' },
      'model-dir': { type: 'string' },
      ...IMAGE_OPTIONS,
    },
    CALIBRATE_HELP,
  );
  if (parsed === undefined) return 0;
  const { values } = parsed;
  const data = required(values, 'data');
  const out = required(values, 'out');
  const requests = list(values, 'prompt-set').map(parseSetRequest);
  if (requests.length === 0) throw new UsageError('--prompt-set is required (at least one)');
  if (new Set(requests.map((r) => r.name)).size !== requests.length) throw new UsageError('a --prompt-set is given twice');
  const coverage = fraction(values, 'coverage', 0.9);
  const abstention = fraction(values, 'in-distribution-abstention', 0.04);
  const seed = int(values, 'seed', 0, 0, 0xffffffff);
  const rendering = imageOptions(values);
  const shown: { progress?: Progress } = {};
  const { client, model, concurrency } = common(values, () => shown.progress);

  const items = loadItems(data, str(values, 'path-column') ?? 'path', str(values, 'label-column') ?? 'label', requests);
  if (items.length < 4) throw new CommandError(`${data} has ${items.length} image(s); calibration needs many (hundreds per class)`);
  const models = (await guarded(() => client.models())).body;
  const info = models.models.find((m) => m.id === (model ?? models.default));
  if (info === undefined) throw new CommandError(`the service serves no model ${model ?? models.default}`);
  const served = (await guarded(() => client.promptSets(info.id))).body.prompt_sets;
  const sets: PromptSetFacts[] = requests.map((r) => {
    const set = served.find((s) => s.name === r.name);
    if (set === undefined)
      throw new CommandError(`model ${info.id} has no prompt set "${r.name}"; it has: ${served.map((s) => s.name).join(', ') || 'none'}`);
    return { name: set.name, version: set.version, labels: set.labels };
  });
  const facts: ModelFacts = {
    id: info.id,
    sha256: info.sha256,
    ...(str(values, 'model-dir') === undefined ? {} : encoderHashes(str(values, 'model-dir')!, info.sha256)),
    embed_dim: info.embed_dim,
    logit_scale: info.logit_scale,
  };

  const guard = new ModelGuard({ model: info.id, sha256: info.sha256 });
  const progress = new Progress('images', items.length);
  shown.progress = progress;
  const { observations, failures } = await collect(items, sets, { client, model: info.id, concurrency, rendering, guard, progress });
  const half = Math.ceil(observations.length / 2);
  if (Math.ceil((half + 1) * Math.max(coverage, 1 - abstention)) > half)
    throw new CommandError(`${observations.length} images are too few for coverage ${coverage} and abstention ${abstention}`);

  const fitted = fit(observations, facts, sets, { seed, coverage, abstention, source: `labelled images of ${basename(data)}` });
  mkdirSync(out, { recursive: true });
  const text = JSON.stringify(fitted.document, null, 1) + '\n';
  const id = createHash('sha256').update(text).digest('hex');
  writeFileSync(join(out, 'calibration.json'), text);
  writeFileSync(join(out, 'calibration.json.sha256'), `${id}  calibration.json\n`);
  writeFileSync(
    join(out, 'errors.csv'),
    formatCsv([['path', 'status', 'code', 'message'], ...failures.map((f) => [f.path, f.status, f.code, f.message])]),
  );
  const doc = fitted.document as { data: { fold_a: number; fold_b: number } };
  const md = writeReport(out, fitted, {
    id,
    model: info.id,
    modelSha256: info.sha256,
    n: observations.length,
    failed: failures.length,
    foldA: doc.data.fold_a,
    foldB: doc.data.fold_b,
    coverage,
    abstention,
  });
  process.stdout.write(md);
  for (const [name, f] of Object.entries(fitted.sets))
    if (
      Math.abs(Math.log((facts.logit_scale / f.temperature) * 0.01)) < 1e-3 ||
      Math.abs(Math.log((facts.logit_scale / f.temperature) * 1e-3)) < 1e-3
    )
      process.stderr.write(
        `warning: prompt set ${name}: the temperature ${f.temperature} is at the search's bound (logit_scale / T in [0.01, 1000]): ` +
          'fold A is separated perfectly or not at all; calibrate on more images\n',
      );
  process.stderr.write(`wrote calibration.json (id ${id}) and calibration.json.sha256 to ${out}\n`);
  return 0;
}
