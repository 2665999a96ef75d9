// `unimed eval` against the demo model served on a free port, on the held-out synthetic set that
// models/demo/model.json records (made by the training toolkit's generator with its seed): the accuracy equals
// the one the toolkit measured in PyTorch within 1 point, and every metric of report.json equals the test's own
// computation from predictions.csv (pairwise AUROC, explicit bins: not the tool's code). Needs /usr/bin/python3
// with numpy and Pillow (the generator).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEMO, PYTHON } from '../helpers/common.ts';
import { makeSynthetic, PYTHON_INSTALL, runCli, serveDemo } from '../helpers/cli.ts';
import { requireTool } from '../helpers/tools.ts';

// A service, Python's generator and several CLI runs: more than the suites' default 120 s on a busy machine.
t.setTimeout(600_000);

interface Report {
  accuracy: number;
  balanced_accuracy: number;
  macro_auroc: number | null;
  ece: number;
  per_class: Record<string, { precision: number; recall: number; f1: number; support: number; auroc: number | null }>;
  confusion: number[][];
  labels: string[];
  n: number;
  failed: number;
  model: string;
  model_sha256: string;
  prompt_set: { name: string; version: string } | null;
}

interface Row {
  path: string;
  label: string;
  predicted: string;
  p: number[];
}

function readPredictions(file: string, labels: string[]): Row[] {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  if (header !== ['path', 'label', 'predicted', ...labels.map((l) => `p_${l}`)].join(','))
    throw new Error(`predictions.csv header: ${header}`);
  return lines.map((line) => {
    const [path, label, predicted, ...p] = line.split(',');
    return { path: path!, label: label!, predicted: predicted!, p: p.map(Number) };
  });
}

/** The test's own metrics: straight from the definitions, pairwise AUROC, ECE bin by bin. */
function independent(rows: Row[], labels: string[]) {
  const n = rows.length;
  const accuracy = rows.filter((r) => r.label === r.predicted).length / n;
  const perClass = labels.map((c, ci) => {
    const tp = rows.filter((r) => r.label === c && r.predicted === c).length;
    const support = rows.filter((r) => r.label === c).length;
    const predicted = rows.filter((r) => r.predicted === c).length;
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    const pos = rows.filter((r) => r.label === c).map((r) => r.p[ci]!);
    const neg = rows.filter((r) => r.label !== c).map((r) => r.p[ci]!);
    let wins = 0;
    for (const a of pos) for (const b of neg) wins += a > b ? 1 : a === b ? 0.5 : 0;
    const auroc = pos.length === 0 || neg.length === 0 ? null : wins / (pos.length * neg.length);
    return { label: c, precision, recall, f1, support, auroc };
  });
  const present = perClass.filter((c) => c.support > 0);
  const aurocs = perClass.map((c) => c.auroc).filter((a): a is number => a !== null);
  let ece = 0;
  for (let b = 0; b < 15; b++) {
    const inBin = rows.filter((r) => {
      const top = r.p[labels.indexOf(r.predicted)]!;
      return b === 0 ? top <= 1 / 15 : top > b / 15 && top <= (b + 1) / 15;
    });
    if (inBin.length === 0) continue;
    const acc = inBin.filter((r) => r.label === r.predicted).length / inBin.length;
    const conf = inBin.reduce((s, r) => s + r.p[labels.indexOf(r.predicted)]!, 0) / inBin.length;
    ece += (inBin.length / n) * Math.abs(acc - conf);
  }
  const confusion = labels.map((truth) => labels.map((pred) => rows.filter((r) => r.label === truth && r.predicted === pred).length));
  return {
    accuracy,
    balanced_accuracy: present.reduce((s, c) => s + c.recall, 0) / present.length,
    macro_auroc: aurocs.reduce((a, b) => a + b, 0) / aurocs.length,
    ece,
    perClass,
    confusion,
  };
}

t.test('unimed eval on the held-out synthetic set', async (t) => {
  if (!requireTool(t, PYTHON, PYTHON_INSTALL)) return;
  const evaluation = (
    JSON.parse(readFileSync(join(DEMO, 'model.json'), 'utf8')) as {
      evaluation: { modality_accuracy: number; held_out_per_class: number; held_out_seed: number };
    }
  ).evaluation;
  const work = mkdtempSync(join(tmpdir(), 'unimed-cli-eval-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const data = join(work, 'held-out');
  await makeSynthetic(data, evaluation.held_out_per_class, evaluation.held_out_seed);
  const { url } = await serveDemo(t);
  const env = { UNIMED_URL: url };

  await t.test('CSV manifest, prompt set: the accuracy the toolkit measured, and every metric recomputed', async (t) => {
    const out = join(work, 'report-csv');
    const run = await runCli(
      [
        'eval',
        '--data',
        join(data, 'labels.csv'),
        '--label-column',
        'modality',
        '--prompt-set',
        'modality',
        '--out',
        out,
        '--concurrency',
        '4',
      ],
      env,
    );
    t.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    t.same(
      Object.keys(report).sort(),
      [
        'accuracy',
        'balanced_accuracy',
        'confusion',
        'ece',
        'failed',
        'labels',
        'macro_auroc',
        'model',
        'model_sha256',
        'n',
        'per_class',
        'prompt_set',
        'trust',
      ].sort(),
      'report.json has exactly the keys of the issue',
    );
    t.equal(report.n, 6 * evaluation.held_out_per_class);
    t.equal(report.failed, 0);
    t.equal(report.model, 'unimed-demo');
    t.match(report.model_sha256, /^[0-9a-f]{64}$/);
    t.equal(report.prompt_set?.name, 'modality');
    t.ok(
      Math.abs(report.accuracy - evaluation.modality_accuracy) <= 0.01,
      `accuracy ${report.accuracy} within 1 point of the toolkit's ${evaluation.modality_accuracy}`,
    );

    const rows = readPredictions(join(out, 'predictions.csv'), report.labels);
    t.equal(rows.length, report.n);
    const mine = independent(rows, report.labels);
    t.equal(report.accuracy, mine.accuracy, 'accuracy');
    t.ok(Math.abs(report.balanced_accuracy - mine.balanced_accuracy) < 1e-12, 'balanced accuracy');
    t.ok(Math.abs(report.macro_auroc! - mine.macro_auroc) < 1e-12, `macro AUROC ${report.macro_auroc} = ${mine.macro_auroc}`);
    t.ok(Math.abs(report.ece - mine.ece) < 1e-9, `ECE ${report.ece} = ${mine.ece}`);
    t.same(report.confusion, mine.confusion, 'confusion matrix');
    for (const c of mine.perClass) {
      const got = report.per_class[c.label]!;
      t.ok(
        ['precision', 'recall', 'f1'].every((k) => Math.abs(got[k as 'f1'] - c[k as 'f1']) < 1e-12) &&
          got.support === c.support &&
          Math.abs(got.auroc! - c.auroc!) < 1e-12,
        `per-class metrics of ${c.label}`,
      );
    }
    for (const picture of ['confusion.svg', 'reliability.svg']) {
      const svg = readFileSync(join(out, picture), 'utf8');
      t.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>\n$/, `${picture} is one SVG document`);
    }
    t.match(
      readFileSync(join(out, 'confusion.svg'), 'utf8'),
      `>${report.confusion[0]![0]}</text>`,
      'the confusion picture shows the counts',
    );
    t.match(run.stdout, /accuracy\s+0\.\d{4}/, 'the terminal report has the metrics table');
    t.match(run.stdout, /true \\ predicted\s+xray\s+ct\s+mri/, 'and the confusion matrix');
  });

  await t.test('a folder per class gives the same report; a broken image is counted, listed and not scored', async (t) => {
    const folder = join(work, 'folder');
    for (const modality of ['xray', 'ct']) {
      mkdirSync(join(folder, modality), { recursive: true });
      for (const i of [0, 1, 2, 3]) copyFileSync(join(data, modality, `0000${i}.png`), join(folder, modality, `0000${i}.png`));
    }
    writeFileSync(join(folder, 'ct', 'broken.png'), readFileSync(join(data, 'ct', '00004.png')).subarray(0, 100));
    const out = join(work, 'report-folder');
    const run = await runCli(
      [
        'eval',
        '--data',
        folder,
        '--labels',
        'xray',
        '--labels',
        'ct',
        '--templates',
        'a {} image.',
        '--templates',
        'a medical {} image.',
        '--out',
        out,
      ],
      env,
    );
    t.equal(run.code, 0, run.stderr);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    t.equal(report.n, 8);
    t.equal(report.failed, 1, 'the broken image is counted as failed');
    t.same(report.labels, ['xray', 'ct']);
    t.equal(report.prompt_set, null);
    t.match(run.stderr, 'failed: ct/broken.png: ', 'and reported by path as it happens');
    t.match(readFileSync(join(out, 'errors.csv'), 'utf8'), /^path,status,code,message\nct\/broken\.png,422,undecodable,/);
    t.notMatch(readFileSync(join(out, 'predictions.csv'), 'utf8'), 'broken', 'and it is not among the predictions');
    const rows = readPredictions(join(out, 'predictions.csv'), report.labels);
    t.equal(report.accuracy, independent(rows, report.labels).accuracy);
  });

  await t.test('class names that match no label of the prompt set: a clear error listing them', async (t) => {
    const manifest = join(work, 'renamed.tsv');
    writeFileSync(
      manifest,
      `file\tclass\n${join(data, 'xray/00000.png')}\tX-Ray\n${join(data, 'ct/00000.png')}\tradiograph\n${join(data, 'mri/00000.png')}\tbrain scan\n`,
    );
    const run = await runCli(
      ['eval', '--data', manifest, '--path-column', 'file', '--label-column', 'class', '--prompt-set', 'modality'],
      env,
    );
    t.equal(run.code, 1);
    t.match(run.stderr, 'no label for: brain scan, radiograph', 'lists every class without a label ("X-Ray" matches "xray")');
    t.match(run.stderr, 'labels of prompt set "modality": xray, ct, mri, ultrasound, histopathology, fundus');
  });

  await t.test('usage mistakes exit 2 with the reason; --help exits 0', async (t) => {
    const both = await runCli(['eval', '--data', data, '--prompt-set', 'modality', '--labels', 'a'], env);
    t.equal(both.code, 2);
    t.match(both.stderr, 'give --prompt-set or --labels/--templates, not both');
    const help = await runCli(['eval', '--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, '--prompt-set NAME');
    t.match(help.stdout, '--api-key KEY');
  });
});
