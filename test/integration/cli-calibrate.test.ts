// `unimed calibrate` against the demo model served on a free port, on synthetic images of a seed the demo never
// used (training.synthetic --seed 4001): the written calibration.json has the fields of models/demo/calibration.json
// (training/calibration_file.py's format) in order, its sidecar holds its sha256, and its numbers equal what the
// Python reference (training/trust.py, with bench/trust.py's fold split) computes from the same service answers,
// which the test fetches itself. Then `unimed eval --coverage --ood` on the same service: without a calibration
// loaded the trust figures are absent and said so; with one, they are in range. Needs /usr/bin/python3 with numpy
// and Pillow.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { UnimedClient } from '../../packages/cli/src/client.ts';
import { makeSynthetic, PYTHON_INSTALL, runCli, serveDemo } from '../helpers/cli.ts';
import { DEMO, PYTHON, ROOT } from '../helpers/common.ts';
import { requireTool } from '../helpers/tools.ts';

t.setTimeout(600_000);

const REFERENCE = `
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from training import trust as T
d = json.load(open(sys.argv[1]))
emb = T.normalize(np.asarray(d["embeddings"]))
n = len(emb)
perm = np.random.RandomState(0).permutation(n)
fa, fb = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
labels = np.asarray(d["labels"])
maha = T.fit_mahalanobis(emb[fa], list(labels[fa]))
out = {"threshold": T.threshold_for(T.mahalanobis_score(emb[fb], maha), 0.04), "classes": list(maha["classes"]),
       "means": maha["means"].tolist(), "precision": maha["precision"].tolist(), "sets": {}}
for name, s in d["sets"].items():
    cos, y = np.asarray(s["cos"]), np.asarray(s["truth"])
    temp = T.fit_temperature(cos[fa], y[fa], d["scale"])
    scores = T.conformal_scores(T.softmax(d["scale"] / temp * cos[fb]), y[fb])
    out["sets"][name] = {"temperature": temp, "sorted_scores": scores.tolist()}
print(json.dumps(out))
`;

function shape(x: unknown): unknown {
  if (Array.isArray(x)) return ['list', x.length > 0 ? shape(x[0]) : null];
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, shape(v)]));
  return typeof x;
}

const close = (a: number, b: number, rel: number): boolean => Math.abs(a - b) <= rel * Math.max(1, Math.abs(b));

t.test('unimed calibrate writes the calibration file the Python reference computes', async (t) => {
  if (!requireTool(t, PYTHON, PYTHON_INSTALL)) return;
  const dir = mkdtempSync(join(tmpdir(), 'unimed-calibrate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  await makeSynthetic(data, 30, 4001);
  // the finding prompt set's labels are normal/abnormal; the generator writes 0/1: a column of label names
  const [header, ...lines] = readFileSync(join(data, 'labels.csv'), 'utf8').trim().split('\n');
  const cols = header!.split(',');
  const rows = lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i]!, v])));
  rows.sort((a, b) => (a.path! < b.path! ? -1 : 1));
  writeFileSync(
    join(data, 'calib.csv'),
    ['path,modality,finding_label', ...rows.map((r) => `${r.path},${r.modality},${r.finding === '1' ? 'abnormal' : 'normal'}`)].join('\n') +
      '\n',
  );
  const { url } = await serveDemo(t);
  const out = join(dir, 'out');
  const run = await runCli(
    [
      'calibrate',
      '--data',
      join(data, 'calib.csv'),
      '--label-column',
      'modality',
      '--prompt-set',
      'modality',
      '--prompt-set',
      'finding:finding_label',
      '--out',
      out,
      '--model-dir',
      DEMO,
    ],
    { UNIMED_URL: url },
  );
  t.equal(run.code, 0, run.stderr);
  const text = readFileSync(join(out, 'calibration.json'), 'utf8');
  t.equal(
    readFileSync(join(out, 'calibration.json.sha256'), 'utf8'),
    `${createHash('sha256').update(text).digest('hex')}  calibration.json\n`,
  );
  const doc = JSON.parse(text) as {
    data: { n: number; fold_a: number; fold_b: number };
    model: Record<string, unknown>;
    ood: { threshold: number; classes: string[]; means: number[][]; precision: number[][] };
    prompt_sets: Record<string, { temperature: number; conformal: { sorted_scores: number[] } }>;
  };
  const demo = JSON.parse(readFileSync(join(DEMO, 'calibration.json'), 'utf8')) as { model: Record<string, unknown> };
  t.equal(JSON.stringify(shape(doc)), JSON.stringify(shape(demo)), 'the fields of models/demo/calibration.json, in order');
  t.same(doc.model, demo.model, 'the same model, encoders included (--model-dir)');
  t.same([doc.data.n, doc.data.fold_a, doc.data.fold_b], [180, 90, 90]);
  for (const f of ['report.md', 'report.json', 'ood-scores.svg', 'reliability-modality-after.svg', 'conformal-finding.svg'])
    t.ok(readFileSync(join(out, f), 'utf8').length > 100, f);
  t.match(run.stdout, /\| modality \| /);

  // the reference, on the service's answers as the test fetches them
  const client = new UnimedClient({ url });
  const models = (await client.models()).body.models[0]!;
  const sets = (await client.promptSets()).body.prompt_sets;
  const embeddings: number[][] = [];
  const cos: Record<string, { cos: number[][]; truth: number[] }> = { modality: { cos: [], truth: [] }, finding: { cos: [], truth: [] } };
  for (const r of rows) {
    const image = { bytes: readFileSync(join(data, r.path!)), name: r.path! };
    embeddings.push((await client.embedImages([image])).body.embeddings[0]!);
    for (const [name, truth] of [
      ['modality', r.modality!],
      ['finding', r.finding === '1' ? 'abnormal' : 'normal'],
    ] as const) {
      const labels = sets.find((s) => s.name === name)!.labels;
      const answer = (await client.classify(image, { prompt_set: name })).body;
      cos[name]!.cos.push(labels.map((l) => answer.predictions.find((p) => p.label === l)!.similarity));
      cos[name]!.truth.push(labels.indexOf(truth));
    }
  }
  const input = join(dir, 'reference-input.json');
  writeFileSync(input, JSON.stringify({ embeddings, labels: rows.map((r) => r.modality), sets: cos, scale: models.logit_scale }));
  const { stdout } = await promisify(execFile)(PYTHON, ['-c', REFERENCE, input, ROOT], { maxBuffer: 64 << 20 });
  const ref = JSON.parse(stdout) as {
    threshold: number;
    classes: string[];
    means: number[][];
    precision: number[][];
    sets: Record<string, { temperature: number; sorted_scores: number[] }>;
  };
  t.same(doc.ood.classes, ref.classes);
  t.ok(close(doc.ood.threshold, ref.threshold, 1e-5), `threshold ${doc.ood.threshold} vs ${ref.threshold}`);
  t.ok(
    doc.ood.means.every((m, i) => m.every((v, k) => Math.abs(v - ref.means[i]![k]!) < 1e-6)),
    'class means',
  );
  const worst = Math.max(
    ...doc.ood.precision.flatMap((row, i) =>
      row.map((v, k) => Math.abs(v - ref.precision[i]![k]!) / Math.max(1, Math.abs(ref.precision[i]![k]!))),
    ),
  );
  t.ok(worst < 1e-5, `precision: worst relative difference ${worst}`);
  for (const name of ['modality', 'finding']) {
    const mine = doc.prompt_sets[name]!;
    t.ok(
      close(mine.temperature, ref.sets[name]!.temperature, 1e-5),
      `${name} temperature ${mine.temperature} vs ${ref.sets[name]!.temperature}`,
    );
    t.ok(
      mine.conformal.sorted_scores.every((s, i) => Math.abs(s - ref.sets[name]!.sorted_scores[i]!) < 1e-6),
      `${name} conformal scores`,
    );
  }

  // eval with the trust options: this service loads no calibration from a temporary directory, so the figures
  // are either absent (said so) or, where the service calibrates, in range
  const ood = join(dir, 'ood');
  mkdirSync(ood);
  await promisify(execFile)(PYTHON, [
    '-c',
    'import sys, numpy as np; from PIL import Image\n' +
      'r = np.random.RandomState(1)\n' +
      'for i in range(8): Image.fromarray((r.rand(96, 96, 3) * 255).astype("uint8")).save(f"{sys.argv[1]}/noise{i}.png")',
    ood,
  ]);
  const evalOut = join(dir, 'eval');
  const ev = await runCli(
    [
      'eval',
      '--data',
      join(data, 'calib.csv'),
      '--label-column',
      'modality',
      '--prompt-set',
      'modality',
      '--coverage',
      '0.9',
      '--ood',
      ood,
      '--out',
      evalOut,
    ],
    { UNIMED_URL: url },
  );
  t.equal(ev.code, 0, ev.stderr);
  const report = JSON.parse(readFileSync(join(evalOut, 'report.json'), 'utf8')) as {
    trust: { calibration: unknown; ood: { auroc: number } | null; coverage: { empirical: number } | null; notes: string[] };
  };
  t.match(ev.stdout, /\ntrust\n/);
  if (report.trust.calibration === null) {
    t.equal(report.trust.ood, null);
    t.ok(report.trust.notes.length > 0, report.trust.notes.join('; '));
  } else {
    t.ok(report.trust.ood !== null && report.trust.ood.auroc >= 0 && report.trust.ood.auroc <= 1);
    t.ok(report.trust.coverage !== null && report.trust.coverage.empirical > 0.5);
  }
});
