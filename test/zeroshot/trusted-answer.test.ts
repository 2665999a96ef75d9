// Answers a hospital can trust, end to end over HTTP on the demo model and its committed calibration: images like
// the training images are answered, non-medical pictures (drawn here) abstained; probabilities at the calibrated
// temperature; conformal prediction sets as the calibration's scores define them; coverage validated; the
// policies; the FHIR form of an abstained answer; /models naming the calibration.
import JSONSchemaValidator from '@asymmetrik/fhir-json-schema-validator';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { DEMO, loadRegistry, ROOT, testConfig } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';

interface Answer {
  predictions: { label: string; probability: number; similarity: number }[];
  abstained: { reason: string; score: number; threshold: number } | null;
  out_of_distribution: { score: number; threshold: number } | null;
  calibration: { id: string; temperature: number } | null;
  prediction_set?: { coverage: number; labels: string[] } | null;
  error?: { code: string; message: string; field?: string };
}
interface CalibrationFile {
  temperature: { value: number };
  ood: { threshold: number };
  prompt_sets: Record<string, { temperature: number; conformal: { sorted_scores: number[] } }>;
}

const calibrationBytes = readFileSync(join(DEMO, 'calibration.json'));
const calibration = JSON.parse(calibrationBytes.toString('utf8')) as CalibrationFile;
const CALIBRATION_ID = createHash('sha256').update(calibrationBytes).digest('hex');

const { registry, metrics } = await loadRegistry();
const servers: { close(): Promise<unknown> }[] = [];
async function serve(env: Record<string, string> = {}): Promise<string> {
  const { app, url } = await listen(testConfig(env), registry, metrics);
  servers.push(app);
  return url;
}
t.teardown(async () => {
  for (const app of servers) await app.close();
  await registry.close();
});
const url = await serve();
const logitScale = registry.get().logitScale;

const inDistribution = {
  'chest-xray.png': readFileSync(join(ROOT, 'examples/chest-xray.png')),
  'mri.tif': readFileSync(join(ROOT, 'examples/mri.tif')),
  'ct.dcm': readFileSync(join(ROOT, 'examples/ct.dcm')),
};
/** Pictures no medical model was shown: a page of text, coloured stripes, a landscape. */
const svg = (body: string, height = 256) =>
  sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="256" height="${height}">${body}</svg>`))
    .png()
    .toBuffer();
const nonMedical = {
  document: await svg(
    `<rect width="256" height="320" fill="white"/>${Array.from({ length: 14 }, (_, i) => `<text x="16" y="${30 + i * 20}" font-family="sans-serif" font-size="13">Lorem ipsum dolor sit amet ${i}</text>`).join('')}`,
    320,
  ),
  stripes: await svg(
    Array.from(
      { length: 16 },
      (_, i) => `<rect x="${i * 16}" width="16" height="256" fill="${['#e33', '#3a3', '#33e', '#ee3'][i % 4]}"/>`,
    ).join(''),
  ),
  landscape: await svg(
    '<rect width="256" height="180" fill="#39f"/><rect y="180" width="256" height="76" fill="#3a2"/><circle cx="200" cy="50" r="25" fill="#fd3"/>',
  ),
};

async function classify(
  image: Buffer,
  fields: Record<string, unknown>,
  base = url,
  accept?: string,
): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${base}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(accept === undefined ? {} : { accept }) },
    body: JSON.stringify({ image: image.toString('base64'), ...fields }),
  });
  return { status: res.status, body: (await res.json()) as Answer };
}
const softmax = (logits: number[]): number[] => {
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
};

t.test('images like the training images are answered, at the calibrated temperature', async (t) => {
  for (const [name, image] of Object.entries(inDistribution)) {
    const { status, body } = await classify(image, { prompt_set: 'modality' });
    t.equal(status, 200, name);
    t.equal(body.abstained, null, `${name}: not abstained`);
    t.ok(
      body.out_of_distribution!.score < body.out_of_distribution!.threshold,
      `${name}: score ${body.out_of_distribution!.score.toFixed(1)} under the threshold`,
    );
    t.equal(body.out_of_distribution!.threshold, calibration.ood.threshold);
    t.same(
      body.calibration,
      { id: CALIBRATION_ID, temperature: calibration.prompt_sets.modality!.temperature },
      'the prompt set’s temperature',
    );
    const expected = softmax(body.predictions.map((p) => (logitScale * p.similarity) / body.calibration!.temperature));
    body.predictions.forEach((p, i) =>
      t.ok(Math.abs(p.probability - expected[i]!) < 1e-9, `${name}: ${p.label} = softmax(scale x cosine / T)`),
    );
  }
  const inline = await classify(inDistribution['mri.tif'], { labels: ['brain scan', 'photo of a cat'] });
  t.equal(inline.body.calibration?.temperature, calibration.temperature.value, 'inline labels: the model-level temperature');
});

t.test('non-medical pictures are abstained (out_of_distribution), their scores kept but flagged', async (t) => {
  for (const [name, image] of Object.entries(nonMedical)) {
    const { status, body } = await classify(image, { prompt_set: 'modality', coverage: 0.9 });
    t.equal(status, 200, name);
    t.match(body.abstained, { reason: 'out_of_distribution', threshold: calibration.ood.threshold }, `${name}: abstained`);
    t.ok(body.abstained!.score > body.abstained!.threshold, `${name}: score ${body.abstained!.score.toFixed(0)}`);
    t.equal(body.predictions.length, 6, 'the predictions stay in the answer');
    t.equal(body.prediction_set, null, 'no prediction set: the guarantee holds in distribution only');
  }
});

t.test('prediction sets: the labels with p >= 1 - q, q the conformal quantile of the calibration scores', async (t) => {
  const scores = calibration.prompt_sets.modality!.conformal.sorted_scores;
  for (const coverage of [0.8, 0.9, 0.95, 0.99]) {
    const q = scores[Math.ceil((scores.length + 1) * coverage) - 1]!;
    for (const [name, image] of Object.entries(inDistribution)) {
      const { body } = await classify(image, { prompt_set: 'modality', coverage });
      const expected = body.predictions.filter((p) => p.probability >= 1 - q).map((p) => p.label);
      t.same(body.prediction_set, { coverage, labels: expected }, `${name} at ${coverage}: ${JSON.stringify(expected)}`);
    }
  }
  const without = await classify(inDistribution['chest-xray.png'], { prompt_set: 'modality' });
  t.notOk('prediction_set' in without.body, 'no coverage asked: no prediction_set field');
});

t.test('coverage and min_probability are validated before anything runs', async (t) => {
  const n = calibration.prompt_sets.modality!.conformal.sorted_scores.length;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ prompt_set: 'modality', coverage: 0 }, /coverage/],
    [{ prompt_set: 'modality', coverage: 1 }, /coverage/],
    [{ prompt_set: 'modality', coverage: -0.5 }, /coverage/],
    [{ prompt_set: 'modality', coverage: 'NaN' }, /coverage/],
    [{ prompt_set: 'modality', coverage: n / (n + 1) + 1e-4 }, /more than \d+ calibration images can promise/],
    [{ labels: ['ct', 'mri'], coverage: 0.9 }, /inline labels were never calibrated/],
    [{ prompt_set: 'modality', min_probability: 1.5 }, /min_probability/],
  ];
  for (const [fields, message] of cases) {
    const { status, body } = await classify(inDistribution['chest-xray.png'], fields);
    t.equal(status, 400, JSON.stringify(fields));
    t.match(body.error?.message, message);
  }
});

t.test('min_probability: an answer below it is abstained as low_confidence', async (t) => {
  const { body } = await classify(inDistribution['mri.tif'], { prompt_set: 'modality', min_probability: 0.999999999 });
  t.match(body.abstained, { reason: 'low_confidence', threshold: 0.999999999 });
  t.equal(body.abstained!.score, body.predictions[0]!.probability, 'the score is the top probability');
});

t.test('TRUST_POLICY: report gives the scores and never abstains; off uses no calibration', async (t) => {
  const report = await serve({ TRUST_POLICY: 'report' });
  const reported = await classify(nonMedical.stripes, { prompt_set: 'modality', coverage: 0.9 }, report);
  t.equal(reported.body.abstained, null, 'report: never abstained');
  t.ok(reported.body.out_of_distribution!.score > calibration.ood.threshold, 'but the score says so');
  t.match(reported.body.prediction_set, { coverage: 0.9 }, 'and the set is given');
  const off = await serve({ TRUST_POLICY: 'off' });
  const raw = await classify(nonMedical.stripes, { prompt_set: 'modality' }, off);
  t.same([raw.body.abstained, raw.body.out_of_distribution, raw.body.calibration], [null, null, null]);
  const expected = softmax(raw.body.predictions.map((p) => logitScale * p.similarity));
  raw.body.predictions.forEach((p, i) => t.ok(Math.abs(p.probability - expected[i]!) < 1e-9, `off: ${p.label} at the model's own scale`));
  const refused = await classify(inDistribution['chest-xray.png'], { prompt_set: 'modality', coverage: 0.9 }, off);
  t.equal(refused.status, 400);
  t.match(refused.body.error?.message, /TRUST_POLICY=off/);
});

t.test('the FHIR Observation of an abstained answer carries no finding and says why', async (t) => {
  const res = await fetch(`${url}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/fhir+json' },
    body: JSON.stringify({ image: nonMedical.document.toString('base64'), prompt_set: 'modality' }),
  });
  t.equal(res.status, 200);
  const observation = (await res.json()) as Record<string, unknown> & { dataAbsentReason?: { text: string }; note: { text: string }[] };
  t.same(new JSONSchemaValidator().validate(observation), [], 'valid FHIR R4');
  t.notOk('valueCodeableConcept' in observation, 'no finding value');
  t.match(observation.dataAbsentReason?.text, /^Abstained: the image is unlike the images the model was calibrated on/);
  t.ok(observation.note.some((n) => /not to be acted on/.test(n.text)));
  const answered = await fetch(`${url}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/fhir+json' },
    body: JSON.stringify({ image: inDistribution['chest-xray.png'].toString('base64'), prompt_set: 'modality' }),
  });
  t.ok('valueCodeableConcept' in ((await answered.json()) as object), 'an answered one keeps its value');
});

t.test('/models names the calibration', async (t) => {
  const models = (await (await fetch(`${url}/models`)).json()) as { models: { calibration: unknown }[] };
  t.same(models.models[0]?.calibration, {
    id: CALIBRATION_ID,
    prompt_sets: ['modality', 'finding'],
    ood_threshold: calibration.ood.threshold,
  });
});

t.test('after traffic, /metrics has the output-quality series, labelled by model, prompt set and reason only', async (t) => {
  const exposition = await (await fetch(`${url}/metrics`)).text();
  for (const name of [
    'unimed_top_probability_bucket',
    'unimed_probability_margin_bucket',
    'unimed_ood_score_ratio_bucket',
    'unimed_answers_total',
  ])
    t.match(exposition, new RegExp(`^${name}\\{[^}]*model="unimed-demo",prompt_set="modality"`, 'm'), name);
  t.match(
    exposition,
    /^unimed_abstentions_total\{model="unimed-demo",prompt_set="modality",reason="out_of_distribution"\} [1-9]/m,
    'abstentions counted',
  );
  t.match(exposition, /^unimed_top_probability_count\{model="unimed-demo",prompt_set="inline"\} [1-9]/m, 'inline labels as one bucket');
  t.match(exposition, /^unimed_embedding_drift\{model="unimed-demo"\} \d/m, 'the drift gauge');
  const labels = [
    ...exposition.matchAll(/^unimed_(?:top_probability|probability_margin|ood_score_ratio|answers|abstentions)\S*\{([^}]*)\}/gm),
  ].map((m) => m[1]!);
  t.ok(
    labels.every((l) => /^(model|prompt_set|reason|le)="[^"]*"(,(model|prompt_set|reason|le)="[^"]*")*$/.test(l)),
    'no other label',
  );
  t.notOk(/brain scan|photo of a cat/.test(exposition), 'no label text');
});
