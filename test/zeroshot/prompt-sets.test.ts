import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parsePromptSets, promptSetVersion } from '../../src/zeroshot/prompt-sets.ts';
import { classify, ensemble, fillTemplate } from '../../src/zeroshot/scoring.ts';
import { DEMO, loadRegistry, maxAbsDiff } from '../helpers/common.ts';
import { copyDemo, counter, histogram } from '../helpers/engine-fixtures.ts';
import { syntheticImages } from '../helpers/synthetic.ts';

const scratch = await mkdtemp(join(tmpdir(), 'unimed-prompts-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));

const SERVICE_YAML = `prompt_sets:
  finding:
    description: normal or not (the operator's wording)
    labels:
      - name: normal
        text: normal, no abnormality
      - name: abnormal
        text: abnormal, with an abnormality
    templates: ["a {} image.", "this scan is {}."]
  views:
    labels: [xray, ct]
    templates: ["{} scan."]
`;
const demoSets = JSON.parse(await readFile(join(DEMO, 'prompt_sets.json'), 'utf8')) as unknown;

// models/demo carries its own prompt_sets.json (listed and hashed, as training.export writes it); a
// service-wide PROMPT_SETS YAML file adds a set and replaces one of the same name. One registry serves both.
const yamlPath = join(scratch, 'sets.yaml');
await writeFile(yamlPath, SERVICE_YAML);
const { registry, metrics } = await loadRegistry({ PROMPT_SETS: yamlPath });
t.teardown(() => registry.close());
const model = registry.get();

t.test('prompt sets from the model directory and from a PROMPT_SETS YAML file are embedded before ready', (t) => {
  const infos = model.promptSets();
  t.same(
    infos.map((i) => [i.name, i.source]),
    [
      ['modality', 'model'],
      ['finding', 'service'],
      ['views', 'service'],
    ],
  );
  const finding = model.promptSet('finding')!;
  t.same(finding.info.labels, ['normal', 'abnormal']);
  t.same(finding.info.templates, ['a {} image.', 'this scan is {}.'], 'the service file replaced the model set of the same name');
  t.equal(finding.info.description, "normal or not (the operator's wording)");
  t.match(finding.info.version, /^[0-9a-f]{16}$/);
  t.equal(finding.classEmbeddings.length, 2);
  t.equal(model.promptSet('modality')!.classEmbeddings.length, 6);
  t.equal(model.promptSet('nope'), undefined);
  t.end();
});

t.test('a class embedding is the re-normalized mean of its normalized template embeddings', async (t) => {
  const set = model.promptSet('finding')!;
  const label = set.labels[1]!;
  const prompts = ['a {} image.', 'this scan is {}.'].map((tpl) => tpl.replace('{}', label.text));
  const expected = ensemble(await model.embedTexts(prompts));
  t.ok(maxAbsDiff(expected, set.classEmbeddings[1]!) < 1e-6);
  const inline = await model.classEmbeddings(set.labels, ['a {} image.', 'this scan is {}.']);
  t.ok(maxAbsDiff(inline[1]!, set.classEmbeddings[1]!) < 1e-6, 'inline labels give the same classes');
  let norm = 0;
  for (const x of set.classEmbeddings[1]!) norm += x * x;
  t.ok(Math.abs(norm - 1) < 1e-6);
});

t.test('the version is a hash of the content and the model sha256: it changes when either changes', (t) => {
  const [set] = parsePromptSets(demoSets, 'prompt_sets.json', 'model');
  const base = promptSetVersion(set!, model.sha256);
  t.equal(model.promptSet('modality')!.info.version, base);
  t.not(promptSetVersion({ ...set!, templates: [...set!.templates, 'x {}'] }, model.sha256), base, 'templates');
  t.not(promptSetVersion({ ...set!, labels: set!.labels.slice(1) }, model.sha256), base, 'labels');
  t.not(
    promptSetVersion({ ...set!, labels: set!.labels.map((l, i) => (i === 0 ? { ...l, text: 'chest x-ray' } : l)) }, model.sha256),
    base,
    'label text',
  );
  t.not(promptSetVersion(set!, 'f'.repeat(64)), base, 'model');
  t.equal(promptSetVersion({ ...set!, description: 'other words' }, model.sha256), base, 'the description changes no output');
  t.end();
});

t.test('a template is filled once, with the label text taken literally', (t) => {
  t.equal(fillTemplate('a {} image.', { name: 'x', text: 'chest x-ray' }), 'a chest x-ray image.');
  // String.replace would read "$&" in the replacement as "the matched text" and put "{}" back.
  t.equal(fillTemplate('a {} image.', { name: 'x', text: "$& $' $$" }), "a $& $' $$ image.");
  t.end();
});

t.test('invalid prompt sets are refused with the file and the set named', async (t) => {
  t.throws(
    () => parsePromptSets({ prompt_sets: { bad: { labels: ['a', 'b'], templates: ['no placeholder'] } } }, 'f.yaml', 'service'),
    /f\.yaml: prompt set "bad" template 0 must be a string containing "\{\}"/,
  );
  t.throws(
    () => parsePromptSets({ prompt_sets: { bad: { labels: ['a', 'a'], templates: ['{}'] } } }, 'f.yaml', 'service'),
    /duplicate label/,
  );
  t.throws(
    () => parsePromptSets({ prompt_sets: { bad: { labels: ['a', 'b'], templates: ['{} or {}'] } } }, 'f.yaml', 'service'),
    /template 0 must be a string containing "\{\}" exactly once/,
  );
  t.throws(() => parsePromptSets({ sets: {} }, 'f.yaml', 'service'), /"prompt_sets" must be an object/);
  const broken = join(scratch, 'broken.yaml');
  await writeFile(broken, 'prompt_sets: [unclosed');
  await t.rejects(loadRegistry({ PROMPT_SETS: broken }), /broken\.yaml: not valid JSON or YAML/);
});

t.test('an unlisted prompt_sets.json in a model directory is refused', async (t) => {
  const copy = await copyDemo();
  t.teardown(copy.cleanup);
  const manifestPath = join(copy.dir, 'model.json');
  const m = JSON.parse(await readFile(manifestPath, 'utf8')) as { files: Record<string, string> };
  delete m.files['prompt_sets.json'];
  await writeFile(manifestPath, JSON.stringify(m));
  await t.rejects(loadRegistry({ MODEL_DIRS: copy.dir }), /prompt_sets\.json is present but not listed/);
});

t.test('text cache: a repeated text is a hit; concurrent misses share one computation', async (t) => {
  const labels = { model: model.id };
  const hits = await counter(metrics, 'unimed_text_cache_hits_total', labels);
  const misses = await counter(metrics, 'unimed_text_cache_misses_total', labels);
  const ran = async (): Promise<number> => (await histogram(metrics, 'unimed_batch_size', { model: model.id, encoder: 'text' })).sum;
  const before = await ran();
  const [first] = await model.embedTexts(['a cache test text']);
  t.equal(await counter(metrics, 'unimed_text_cache_misses_total', labels), misses + 1);
  const [second] = await model.embedTexts(['  a cache   test text ']);
  t.equal(await counter(metrics, 'unimed_text_cache_hits_total', labels), hits + 1, 'same cleaned text: a hit');
  t.same(second, first);
  t.equal((await ran()) - before, 1, 'the encoder ran once');
  const [a, b] = await Promise.all([model.embedTexts(['shared concurrent text']), model.embedTexts(['shared concurrent text'])]);
  t.same(a, b);
  t.equal((await ran()) - before, 2, 'two concurrent requests, one computation');
  t.equal(await counter(metrics, 'unimed_text_cache_misses_total', labels), misses + 2);
});

t.test('a shared computation whose first requester leaves is still delivered to the second', async (t) => {
  // The leaver's text waits TEXT_MAX_DELAY_MS for company, so it is still queued when the leaver aborts
  // (synchronously, below): its computation fails with CancelledError, which the stayer must not inherit.
  const controller = new AbortController();
  const leaver = model.embedTexts(['first requester leaves'], { signal: controller.signal });
  const stayer = model.embedTexts(['first requester leaves']);
  controller.abort();
  await t.rejects(leaver, { name: 'CancelledError' });
  const [vector] = await stayer;
  t.equal(vector!.length, model.embedDim);
});

t.test('classify: softmax over labels of logit_scale x cosine, sorted, cut to topK', (t) => {
  const labels = [
    { name: 'a', text: 'a' },
    { name: 'b', text: 'b' },
    { name: 'c', text: 'c' },
  ];
  const unit = (i: number): Float32Array => {
    const v = new Float32Array(4);
    v[i] = 1;
    return v;
  };
  const image = new Float32Array([0.6, 0.8, 0, 0]);
  const predictions = model.classify(image, [unit(0), unit(1), unit(2)], labels);
  t.same(
    predictions.map((p) => p.label),
    ['b', 'a', 'c'],
  );
  t.ok(Math.abs(predictions[0]!.similarity - 0.8) < 1e-6);
  const z = [image[0]!, image[1]!, 0].map((s) => Math.exp(model.logitScale * s));
  const total = z.reduce((x, y) => x + y, 0);
  t.ok(Math.abs(predictions[0]!.probability - z[1]! / total) < 1e-9);
  t.ok(Math.abs(predictions.reduce((s, p) => s + p.probability, 0) - 1) < 1e-9);
  t.same(
    model.classify(image, [unit(0), unit(1), unit(2)], labels, 1).map((p) => p.label),
    ['b'],
  );
  t.same(
    classify(image, [unit(0), unit(1)], labels.slice(0, 2), 100).map((p) => p.label),
    ['b', 'a'],
  );
  t.end();
});

// The held-out set of the demo's own evaluation (model.json `evaluation`, written by training.make_demo):
// training.synthetic's images (committed, or made live by `npm run test:reference`), classified through the real
// engine, not the Python one.
const demoManifest = JSON.parse(await readFile(join(DEMO, 'model.json'), 'utf8')) as {
  evaluation?: { held_out_seed?: number; held_out_per_class?: number };
};
t.test('zero-shot accuracy >= 0.9 on the 300 held-out synthetic images with the modality prompt set', async (t) => {
  const evaluation = demoManifest.evaluation;
  t.type(evaluation?.held_out_seed, 'number', 'model.json records the held-out seed');
  const { decodeImage } = await import('../../src/inputs/decode.ts');
  if (evaluation?.held_out_seed === undefined) return;
  const perClass = evaluation.held_out_per_class ?? 50;
  const rows = await syntheticImages(perClass, evaluation.held_out_seed);
  const set = model.promptSet('modality')!;
  let correct = 0;
  const limits = { imagePixels: 64 * 1024 * 1024 };
  for (let i = 0; i < rows.length; i += 16) {
    const chunk = rows.slice(i, i + 16);
    const pixels = await Promise.all(
      chunk.map(async ({ bytes }) => (await decodeImage({ bytes }, model.imageSpec, { ...limits, decoder: undefined })).pixels),
    );
    const embeddings = await model.embedImages(pixels);
    chunk.forEach(({ modality }, j) => {
      if (model.classify(embeddings[j]!, set.classEmbeddings, set.labels, 1)[0]!.label === modality) correct++;
    });
  }
  const accuracy = correct / rows.length;
  t.equal(rows.length, perClass * 6);
  t.ok(accuracy >= 0.9, `accuracy ${accuracy.toFixed(3)} on ${rows.length} held-out images`);
});
