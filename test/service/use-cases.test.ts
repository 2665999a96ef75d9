// The use cases of src/service/ run without an HTTP request behind them (as background jobs will): a work context
// built from an owner alone, the real demo model, and the same answer the HTTP route gives for the same input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { OutputQuality } from '../../src/service/output-quality.ts';
import { DicomwebSources } from '../../src/dicomweb/sources.ts';
import { classifyImage } from '../../src/service/classify.ts';
import { workContext } from '../../src/service/context.ts';
import { embedTexts } from '../../src/service/embed.ts';
import type { UseCaseServices } from '../../src/service/use-case.ts';
import { DEMO, loadRegistry } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';
import type { ClassifyBody } from '../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry();
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const decoding = {
  imagePixels: config.limits.imagePixels,
  imageBytes: config.limits.imageBytes,
  decodeTimeoutMs: config.decoderTimeoutMs,
  decompression: config.limits.decompression,
  // An 8-bit PNG needs no decoder thread.
  decoder: undefined,
};
const sources = new DicomwebSources(config.dicomweb, metrics);
const services: UseCaseServices = {
  limits: config.limits,
  decoding,
  sources,
  series: {
    limits: { bodyBytes: config.limits.bodyBytes, maxSeriesSlices: 4, maxSeriesInstances: 4 },
    uploadParallelism: 1,
    sources,
    decoding,
  },
  trustPolicy: 'abstain',
  outputQuality: new OutputQuality(metrics, 500),
};
const chooseModel = (id: string | undefined) => registry.get(id);

t.test('the work context is built once, from an owner alone, and cannot be changed', (t) => {
  const context = workContext({ owner: 'job:1' });
  t.ok(Object.isFrozen(context), 'frozen');
  t.equal(context.owner, 'job:1');
  t.throws(() => Object.assign(context, { owner: 'someone else' }), TypeError, 'an assignment fails');
  t.end();
});

t.test('classifyImage without HTTP answers what POST /classify answers', async (t) => {
  const fields = { labels: ['xray', 'ct', 'mri'] };
  const result = await classifyImage(
    { image: { bytes: png }, retrievalBytes: config.limits.bodyBytes, rendering: {}, fields },
    chooseModel,
    services,
    workContext({ owner: 'job:classify' }),
  );
  const res = await fetch(`${url}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ image: png.toString('base64'), ...fields }),
  });
  t.equal(res.status, 200);
  const body = (await res.json()) as ClassifyBody;
  t.equal(result.model.id, body.model);
  t.same(
    result.predictions.map((p) => p.label),
    body.predictions.map((p) => p.label),
    'same ranking',
  );
  result.predictions.forEach((p, i) =>
    t.ok(Math.abs(p.probability - body.predictions[i]!.probability) < 1e-6, `${p.label}: same probability`),
  );
});

t.test('embedTexts without HTTP: limits hold, and an aborted context drops the work', async (t) => {
  const { embeddings } = await embedTexts(
    { texts: ['a chest x-ray'], model: undefined },
    chooseModel,
    services,
    workContext({ owner: 'job:t' }),
  );
  t.equal(embeddings.length, 1);
  const tooMany = Array.from({ length: config.limits.textsPerRequest + 1 }, () => 'x');
  await t.rejects(embedTexts({ texts: tooMany, model: undefined }, chooseModel, services, workContext({ owner: 'job:t' })), {
    code: 'too_many_texts',
  });
  const aborted = new AbortController();
  aborted.abort();
  await t.rejects(
    embedTexts(
      { texts: ['never embedded'], model: undefined },
      chooseModel,
      services,
      workContext({ owner: 'job:t', signal: aborted.signal }),
    ),
    { name: 'CancelledError' },
  );
});
