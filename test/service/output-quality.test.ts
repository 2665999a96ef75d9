// Output-quality telemetry on a real prom-client registry (the service's Metrics), read back as the exposition
// scrapes it: answers and abstentions by model, prompt set (`inline` for labels sent with the request) and reason;
// the top-probability, margin and OOD-ratio histograms; the drift gauge as the rolling mean of score / threshold over
// the last DRIFT_WINDOW images of each model. No label but model, prompt_set, reason (and a histogram's le).
import t from 'tap';
import { Metrics } from '../../src/metrics.ts';
import { OutputQuality } from '../../src/service/output-quality.ts';

/** The demo calibration's threshold (models/demo/calibration.json `ood.threshold`). */
const THRESHOLD = 172.719482;
const DEMO = { id: 'unimed-demo' };
const QUALITY_METRICS = [
  'unimed_top_probability',
  'unimed_probability_margin',
  'unimed_ood_score_ratio',
  'unimed_answers_total',
  'unimed_abstentions_total',
  'unimed_embedding_drift',
  'unimed_embedding_drift_images',
];

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

async function samples(metrics: Metrics, name: string): Promise<Sample[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Sample[];
}

/** The value of the sample of `name` (or of a histogram's `_sum` / `_count` series) whose labels include `labels`. */
async function value(
  metrics: Metrics,
  name: string,
  labels: Record<string, string | number>,
  series?: string,
): Promise<number | undefined> {
  const found = (await samples(metrics, name)).find(
    (s) => (series === undefined || s.metricName === series) && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found?.value;
}

function setup(window = 100) {
  const metrics = new Metrics({ defaultMetrics: false });
  return { metrics, quality: new OutputQuality(metrics, window) };
}

t.test('answers and abstentions by model, prompt set and reason; both reasons start at 0', async (t) => {
  const { metrics, quality } = setup();
  const ood = { score: 90, threshold: THRESHOLD };
  quality.record(DEMO, 'modality', { probabilities: [0.9, 0.05, 0.05], ood });
  quality.record(DEMO, 'modality', { probabilities: [0.4, 0.35, 0.25], ood, abstained: 'low_confidence' });
  quality.record(DEMO, undefined, {
    probabilities: [0.5, 0.5],
    ood: { score: 4000, threshold: THRESHOLD },
    abstained: 'out_of_distribution',
  });
  const modality = { model: 'unimed-demo', prompt_set: 'modality' };
  const inline = { model: 'unimed-demo', prompt_set: 'inline' };
  t.equal(await value(metrics, 'unimed_answers_total', modality), 2);
  t.equal(await value(metrics, 'unimed_answers_total', inline), 1, 'inline labels are one prompt_set, "inline"');
  t.equal(await value(metrics, 'unimed_abstentions_total', { ...modality, reason: 'low_confidence' }), 1);
  t.equal(
    await value(metrics, 'unimed_abstentions_total', { ...modality, reason: 'out_of_distribution' }),
    0,
    'a reason not seen yet is at 0',
  );
  t.equal(await value(metrics, 'unimed_abstentions_total', { ...inline, reason: 'out_of_distribution' }), 1);
  t.equal(await value(metrics, 'unimed_abstentions_total', { ...inline, reason: 'low_confidence' }), 0);
  t.match(
    await metrics.registry.metrics(),
    /unimed_abstentions_total\{model="unimed-demo",prompt_set="modality",reason="out_of_distribution"\} 0/,
  );
});

t.test('histograms: top probability, margin between the first two, OOD score / threshold', async (t) => {
  const { metrics, quality } = setup();
  const labels = { model: 'unimed-demo', prompt_set: 'finding' };
  quality.record(DEMO, 'finding', { probabilities: [0.7, 0.2, 0.1], ood: { score: THRESHOLD / 2, threshold: THRESHOLD } });
  quality.record(DEMO, 'finding', { probabilities: [0.1, 0.3, 0.6], ood: { score: 3 * THRESHOLD, threshold: THRESHOLD } });
  quality.record(DEMO, 'finding', { probabilities: [1] });
  const sum = (name: string) => value(metrics, name, labels, `${name}_sum`);
  const count = (name: string) => value(metrics, name, labels, `${name}_count`);
  t.equal(await count('unimed_top_probability'), 3);
  t.equal(await sum('unimed_top_probability'), 0.7 + 0.6 + 1, 'the largest probability, whatever the order given');
  t.equal(await count('unimed_probability_margin'), 2, 'no margin with one label');
  t.ok(Math.abs((await sum('unimed_probability_margin'))! - (0.5 + 0.3)) < 1e-12, 'first minus second');
  t.equal(await count('unimed_ood_score_ratio'), 2, 'an answer without a score has no ratio');
  t.ok(Math.abs((await sum('unimed_ood_score_ratio'))! - 3.5) < 1e-12, 'score / threshold');
  t.equal(
    await value(metrics, 'unimed_ood_score_ratio', { ...labels, le: 0.5 }, 'unimed_ood_score_ratio_bucket'),
    1,
    'buckets in threshold units',
  );
  t.equal(await value(metrics, 'unimed_ood_score_ratio', { ...labels, le: 2 }, 'unimed_ood_score_ratio_bucket'), 1);
  t.equal(await value(metrics, 'unimed_ood_score_ratio', { ...labels, le: 4 }, 'unimed_ood_score_ratio_bucket'), 2);
});

t.test('values that are not finite are left out, never thrown', async (t) => {
  const { metrics, quality } = setup();
  const labels = { model: 'unimed-demo', prompt_set: 'inline' };
  quality.record(DEMO, undefined, { probabilities: [NaN, 0.6, Infinity, 0.3], ood: { score: NaN, threshold: THRESHOLD } });
  quality.record(DEMO, undefined, { probabilities: [], ood: { score: 10, threshold: 0 } });
  t.equal(await value(metrics, 'unimed_answers_total', labels), 2, 'both answers counted');
  t.equal(await value(metrics, 'unimed_top_probability', labels, 'unimed_top_probability_sum'), 0.6);
  t.ok(Math.abs((await value(metrics, 'unimed_probability_margin', labels, 'unimed_probability_margin_sum'))! - 0.3) < 1e-12);
  t.equal(await value(metrics, 'unimed_ood_score_ratio', labels, 'unimed_ood_score_ratio_count'), undefined, 'no ratio observed');
  t.equal(quality.driftOf('unimed-demo'), undefined, 'no drift without a usable score');
});

t.test('drift: the mean of score / threshold over the last window images of each model', async (t) => {
  const window = 100;
  const { metrics, quality } = setup(window);
  const ratios: number[] = [];
  // A seeded sequence: ratios around 0.5 (in distribution), then a shift to around 1.5.
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 1037; i++) {
    const ratio = (i < 600 ? 0.3 : 1.3) + 0.4 * next();
    ratios.push(ratio);
    quality.record(DEMO, 'modality', { probabilities: [0.8, 0.2], ood: { score: ratio * THRESHOLD, threshold: THRESHOLD } });
    if (i === 49) {
      const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
      t.ok(Math.abs(quality.driftOf('unimed-demo')! - mean) < 1e-9, 'before the window fills: the mean of what came');
      t.equal(await value(metrics, 'unimed_embedding_drift_images', { model: 'unimed-demo' }), 50);
      t.ok(Math.abs((await value(metrics, 'unimed_embedding_drift', { model: 'unimed-demo' }))! - mean) < 1e-9, 'the gauge');
    }
    if (i === 599) t.ok(quality.driftOf('unimed-demo')! < 0.6, `in distribution: ${quality.driftOf('unimed-demo')}`);
  }
  const last = ratios.slice(-window);
  const mean = last.reduce((a, b) => a + b, 0) / window;
  t.ok(
    Math.abs(quality.driftOf('unimed-demo')! - mean) < 1e-9,
    `after the shift: ${quality.driftOf('unimed-demo')} = mean of the last ${window}`,
  );
  t.ok(mean > 1.4, 'the window holds only shifted images');
  t.ok(Math.abs((await value(metrics, 'unimed_embedding_drift', { model: 'unimed-demo' }))! - mean) < 1e-9);
  t.equal(await value(metrics, 'unimed_embedding_drift_images', { model: 'unimed-demo' }), window, 'the window is bounded');

  // Another model has its own window; answers without a score leave the gauge as it is.
  quality.record({ id: 'other' }, undefined, { probabilities: [0.9, 0.1], ood: { score: 20, threshold: 80 } });
  quality.record({ id: 'other' }, undefined, { probabilities: [0.9, 0.1] });
  t.equal(quality.driftOf('other'), 0.25);
  t.equal(await value(metrics, 'unimed_embedding_drift', { model: 'other' }), 0.25);
  t.equal(await value(metrics, 'unimed_embedding_drift_images', { model: 'other' }), 1);
  t.ok(Math.abs(quality.driftOf('unimed-demo')! - mean) < 1e-9, 'the first model unchanged');
});

t.test('the running sum does not drift over many windows', (t) => {
  const { quality } = setup(100);
  // Values of very different sizes make a naive running sum lose precision.
  for (let i = 0; i < 100_000; i++) {
    quality.record(DEMO, undefined, { probabilities: [1], ood: { score: i % 2 === 0 ? 1e6 : 1e-6, threshold: 1 } });
  }
  for (let i = 0; i < 100; i++) quality.record(DEMO, undefined, { probabilities: [1], ood: { score: 0.5, threshold: 1 } });
  t.equal(quality.driftOf('unimed-demo'), 0.5, 'exactly the mean of the last window');
  t.end();
});

t.test('labels: model, prompt_set and reason only; every value a model id, a prompt set name or a reason', async (t) => {
  const { metrics, quality } = setup();
  quality.record(DEMO, 'modality', { probabilities: [0.6, 0.4], ood: { score: 50, threshold: THRESHOLD }, abstained: 'low_confidence' });
  quality.record(DEMO, undefined, {
    probabilities: [0.6, 0.4],
    ood: { score: 500, threshold: THRESHOLD },
    abstained: 'out_of_distribution',
  });
  const allowed: Record<string, (v: string | number) => boolean> = {
    model: (v) => v === 'unimed-demo',
    prompt_set: (v) => v === 'modality' || v === 'inline',
    reason: (v) => v === 'out_of_distribution' || v === 'low_confidence',
    le: (v) => typeof v === 'number' || v === '+Inf',
  };
  const foreign: string[] = [];
  for (const name of QUALITY_METRICS) {
    const values = await samples(metrics, name);
    t.ok(values.length > 0, `${name} has samples`);
    for (const sample of values) {
      for (const [label, v] of Object.entries(sample.labels)) if (!allowed[label]?.(v)) foreign.push(`${name}: ${label}=${v}`);
    }
  }
  t.same(foreign, [], 'every label is model, prompt_set, reason or le, with a value of the expected kind');
  const exposition = await metrics.registry.metrics();
  const labelNames = new Set(
    [...exposition.matchAll(/^unimed_[a-z_]+\{([^}]*)\}/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)="/g)].map((l) => l[1])),
  );
  t.same([...labelNames].sort(), ['le', 'model', 'prompt_set', 'reason'], 'the exposition carries no other label');
});

t.test('the drift window must be a positive integer', (t) => {
  const metrics = new Metrics({ defaultMetrics: false });
  t.throws(() => new OutputQuality(metrics, 0), RangeError);
  t.throws(() => new OutputQuality(metrics, 2.5), RangeError);
  t.equal(new OutputQuality(metrics, 500).driftWindow, 500);
  t.end();
});
