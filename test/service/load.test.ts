import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import t from 'tap';
import type { Test } from 'tap';
import { ServiceError } from '../../src/errors.ts';
import { decodeImage } from '../../src/inputs/decode.ts';
import { readManifest } from '../../src/models/manifest.ts';
import { Metrics } from '../../src/metrics.ts';
import { capturedLogger, cosine, DEMO, loadRegistry, until } from '../helpers/common.ts';
import { copyDemo, counter, rehash } from '../helpers/engine-fixtures.ts';
import { SESSION_OPTIONS_CHANNEL, TAMPER_DIR_ENV, type SessionOptionsReport } from '../fixtures/workers/session-options.ts';

const REPORTING_WORKER = new URL('../fixtures/workers/session-options-worker.ts', import.meta.url);

interface Golden {
  texts: { text: string; embedding: number[] }[];
  images: { file: string; kind: 'exact' | 'resized'; embedding: number[] }[];
}
const manifest = JSON.parse(await readFile(join(DEMO, 'model.json'), 'utf8')) as {
  id: string;
  golden: { text_min_cosine: number; image_exact_min_cosine: number; image_resized_min_cosine: number };
};
const golden = JSON.parse(await readFile(join(DEMO, 'golden.json'), 'utf8')) as Golden;

// One registry for the checks that need a served model; it asks for CUDA first on a machine without it.
const { registry, metrics, config } = await loadRegistry({ EXECUTION_PROVIDERS: 'cuda,cpu' });
t.teardown(() => registry.close());

t.test('provider fallback: cuda,cpu on a machine without CUDA serves on cpu and says so', async (t) => {
  const [info] = registry.list();
  t.same(info?.providers, { image: 'cpu', text: 'cpu' });
  t.equal(info?.default, true);
  t.equal(
    await counter(metrics, 'unimed_model_info', {
      model: manifest.id,
      provider: 'cpu',
      requested_provider: 'cuda',
      sha256: registry.get().sha256,
    }),
    1,
    'unimed_model_info says CUDA was asked for and CPU serves (the alert UnimedProviderFellBackToCPU reads this)',
  );
});

t.test('golden parity through the served engine', async (t) => {
  const model = registry.get();
  const texts = await model.embedTexts(golden.texts.map((g) => g.text));
  golden.texts.forEach((g, i) => {
    t.ok(cosine(texts[i]!, g.embedding) >= manifest.golden.text_min_cosine, `text ${i}`);
  });
  for (const image of golden.images) {
    const { pixels } = await decodeImage({ bytes: await readFile(join(DEMO, image.file)) }, model.imageSpec, {
      ...config.limits,
      decoder: undefined,
    });
    const [embedding] = await model.embedImages([pixels]);
    const tolerance = image.kind === 'exact' ? manifest.golden.image_exact_min_cosine : manifest.golden.image_resized_min_cosine;
    t.ok(cosine(embedding!, image.embedding) >= tolerance, `${image.file} cosine >= ${tolerance}`);
    let norm = 0;
    for (const x of embedding!) norm += x * x;
    t.ok(Math.abs(norm - 1) < 1e-5, 'embeddings are L2-normalized');
  }
});

t.test('the model sha256 is the sha256 of the sha256sum listing of files', async (t) => {
  const { createHash } = await import('node:crypto');
  const m = JSON.parse(await readFile(join(DEMO, 'model.json'), 'utf8')) as { files: Record<string, string> };
  const listing = Object.keys(m.files)
    .sort()
    .map((name) => `${m.files[name]}  ${name}\n`)
    .join('');
  t.equal(registry.get().sha256, createHash('sha256').update(listing).digest('hex'));
});

t.test('an unknown model id is a 404', (t) => {
  t.equal(registry.get().id, registry.defaultId);
  t.equal(registry.get(manifest.id).id, manifest.id);
  t.throws(
    () => registry.get('no-such-model'),
    new ServiceError('model_not_found', 'unknown model "no-such-model"; GET /models lists the served ones', { field: 'model' }),
  );
  t.end();
});

async function expectLoadFailure(t: Test, dir: string, pattern: RegExp): Promise<void> {
  await t.rejects(loadRegistry({ MODEL_DIRS: dir }), pattern);
}

t.test('refuses to serve a model whose file changed by one byte, naming the file', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const path = join(dir, 'text_encoder.onnx');
  const bytes = await readFile(path);
  const at = bytes.length >> 1;
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(path, bytes);
  await expectLoadFailure(t, dir, /file check failed: text_encoder\.onnx has sha256 [0-9a-f]{64}, model\.json says/);
});

t.test(
  'the sessions are made from the bytes that were hashed: a file changed on disk after it was read never reaches onnxruntime',
  async (t) => {
    const { dir, cleanup } = await copyDemo();
    t.teardown(cleanup);
    const listed = (JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { files: Record<string, string> }).files;
    const sha256 = async (name: string) =>
      createHash('sha256')
        .update(await readFile(join(dir, name)))
        .digest('hex');
    const reports: SessionOptionsReport[] = [];
    const channel = new BroadcastChannel(SESSION_OPTIONS_CHANNEL);
    channel.onmessage = (event) => reports.push((event as { data: SessionOptionsReport }).data);
    t.teardown(() => channel.close());
    // The reporting worker flips a byte of its encoder's file just before creating its session, i.e. after the
    // service read the file: the session must still be made from the bytes read (and hashed), never from the path.
    process.env[TAMPER_DIR_ENV] = dir;
    t.teardown(() => delete process.env[TAMPER_DIR_ENV]);
    const { registry: tampered } = await loadRegistry({ MODEL_DIRS: dir }, { inferenceWorker: REPORTING_WORKER });
    t.teardown(() => tampered.close());
    await until('both sessions to report', () => reports.length >= 2);
    for (const report of reports) {
      t.ok('bytes' in report.source, `${report.modelFile}: onnxruntime was given bytes, not a path to open`);
      const given = 'sha256' in report.source ? report.source.sha256 : undefined;
      t.equal(given, listed[report.modelFile], `${report.modelFile}: those bytes are the ones model.json lists`);
      t.not(await sha256(report.modelFile), listed[report.modelFile], `${report.modelFile} did change on disk`);
    }
    const [embedding] = await tampered.get().embedTexts([golden.texts[0]!.text]);
    t.ok(cosine(embedding!, golden.texts[0]!.embedding) >= manifest.golden.text_min_cosine, 'it serves the verified model');
    delete process.env[TAMPER_DIR_ENV];
    await expectLoadFailure(t, dir, /file check failed: (image|text)_encoder\.onnx has sha256 [0-9a-f]{64}, model\.json says/);
  },
);

t.test('each load step is timed in the log and in unimed_model_load_step_seconds', async (t) => {
  const { logger, lines } = capturedLogger('info');
  const stepMetrics = new Metrics({ defaultMetrics: false });
  const { registry: timed } = await loadRegistry({}, { logger, metrics: stepMetrics });
  t.teardown(() => timed.close());
  const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'model load step');
  const encoderSteps = ['read', 'hash', 'session', 'warmup'].flatMap((step) => [`image_${step}`, `text_${step}`]);
  const steps = ['verify_files', 'encoders', ...encoderSteps, 'golden', 'prompt_sets', 'total'];
  t.same(logged.map((line) => line.step).sort(), [...steps].sort(), 'one line per step');
  for (const line of logged) {
    t.same(
      Object.keys(line)
        .filter((key) => !['level', 'time', 'pid', 'hostname', 'msg'].includes(key))
        .sort(),
      ['model', 'seconds', 'step'],
      `${String(line.step)}: model, step and seconds only`,
    );
    t.ok(typeof line.seconds === 'number' && line.seconds >= 0, `${String(line.step)}: seconds`);
    t.equal(
      await counter(stepMetrics, 'unimed_model_load_step_seconds', { model: manifest.id, step: String(line.step) }),
      line.seconds,
      `${String(line.step)}: the metric says what the log says`,
    );
  }
  const total = logged.find((line) => line.step === 'total')?.seconds as number;
  t.ok(total > 0 && logged.every((line) => (line.seconds as number) <= total), 'no step is longer than the whole load');
});

t.test('refuses a missing file, naming it', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  await rm(join(dir, 'golden_resized.png'));
  await expectLoadFailure(t, dir, /golden_resized\.png is listed in model\.json but cannot be read/);
});

t.test('refuses a golden.json whose token ids disagree (re-hashed, so only the golden check can catch it)', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const g = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8')) as { texts: { input_ids: number[] }[] };
  g.texts[1]!.input_ids[2]! += 1;
  await writeFile(join(dir, 'golden.json'), JSON.stringify(g));
  await rehash(dir, 'golden.json');
  await expectLoadFailure(t, dir, /golden check failed: text 1: input_ids differ at position 2/);
});

t.test('refuses a golden.json whose image embedding is off, naming the image, cosine and tolerance', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const g = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8')) as Golden;
  const resized = g.images.find((i) => i.kind === 'resized')!;
  resized.embedding = resized.embedding.map((x, i) => (i % 2 === 0 ? -x : x));
  await writeFile(join(dir, 'golden.json'), JSON.stringify(g));
  await rehash(dir, 'golden.json');
  await expectLoadFailure(
    t,
    dir,
    /golden check failed: image golden_resized\.png \(resized\): embedding cosine -?\d\.\d+ < image_resized_min_cosine/,
  );
});

t.test('refuses a golden.json whose text embedding is off', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const g = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8')) as Golden;
  g.texts[0]!.embedding = g.texts[0]!.embedding.map((x, i) => (i < 8 ? x + 0.5 : x));
  await writeFile(join(dir, 'golden.json'), JSON.stringify(g));
  await rehash(dir, 'golden.json');
  await expectLoadFailure(t, dir, /model unimed-demo .*golden check failed: text 0: embedding cosine \d\.\d+ < text_min_cosine/);
});

t.test('refuses an invalid manifest, naming the field', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const m = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  m.text!.cleaning = 'ftfy-full';
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  await expectLoadFailure(t, dir, /"text\.cleaning" is "ftfy-full"/);
  m.text!.cleaning = 'unimed-clean-v1';
  m.files!['../evil'] = '0'.repeat(64);
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  await expectLoadFailure(t, dir, /"files\.\.\.\/evil" is not a plain file name/);
});

t.test('diagnostic_use: false unless model.json says true; anything but a boolean is refused', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  t.equal((await readManifest(DEMO)).diagnostic_use, false, 'absent (the demo): not for diagnostic use');
  const m = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  m.diagnostic_use = true;
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  t.equal((await readManifest(dir)).diagnostic_use, true, 'true when it says so');
  m.diagnostic_use = 'yes';
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  await t.rejects(readManifest(dir), /"diagnostic_use" must be true or false/);
});

t.test('embedding_truncation: false unless model.json says true; provenance.exported_at read as Unix seconds when a date', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const demo = await readManifest(DEMO);
  t.equal(demo.embedding_truncation, false, 'absent (the demo, a CLIP model): not to be truncated');
  t.equal(demo.exported_at, Math.floor(Date.parse('2026-12-06T22:15:41Z') / 1000));
  const m = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  m.embedding_truncation = true;
  m.provenance = { exported_at: 'not a date' };
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  const copy = await readManifest(dir);
  t.equal(copy.embedding_truncation, true, 'true when it says so');
  t.equal(copy.exported_at, undefined, 'informational: an unreadable date is left out, not refused');
  m.embedding_truncation = 'yes';
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  await t.rejects(readManifest(dir), /"embedding_truncation" must be true or false/);
});

t.test('several models: the first is the default, each is reachable by id', async (t) => {
  const { dir, cleanup } = await copyDemo();
  t.teardown(cleanup);
  const m = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { id: string };
  m.id = 'demo-copy';
  await writeFile(join(dir, 'model.json'), JSON.stringify(m));
  const two = await loadRegistry({ MODEL_DIRS: `${DEMO},${dir}`, WORKERS_PER_ENCODER: '1' });
  t.teardown(() => two.registry.close());
  t.equal(two.registry.defaultId, manifest.id);
  t.same(
    two.registry.list().map((i) => [i.id, i.default]),
    [
      [manifest.id, true],
      ['demo-copy', false],
    ],
  );
  const [a] = await two.registry.get().embedTexts(['a chest x-ray']);
  const [b] = await two.registry.get('demo-copy').embedTexts(['a chest x-ray']);
  t.ok(cosine(a!, b!) > 0.99999, 'same weights, same embedding');
  await t.rejects(loadRegistry({ MODEL_DIRS: `${DEMO},${DEMO}` }), /model id "unimed-demo" .* is already served/);
});
