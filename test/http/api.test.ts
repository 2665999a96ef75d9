// The HTTP API end to end: real server on 127.0.0.1:0, real registry on models/demo, real images.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { parse } from 'yaml';
import { SERVICE_VERSION } from '../../src/version.ts';
import type { ClassifyBody, EmbedBody, ModelsBody, PromptSetsBody } from '../helpers/http.ts';
import { cosine, DEMO, loadRegistry, ROOT } from '../helpers/common.ts';
import { json, listen, writePromptSets } from '../helpers/http.ts';
import { syntheticImages } from '../helpers/synthetic.ts';

const { registry, metrics, config } = await loadRegistry({
  PROMPT_SETS: writePromptSets(),
  MAX_TEXTS_PER_REQUEST: '4',
  MAX_CHARS_PER_TEXT: '200',
  MAX_IMAGES_PER_REQUEST: '3',
  MAX_PROMPTS_PER_CLASSIFY: '12',
  MAX_IMAGE_PIXELS: '1000000',
  MAX_BODY_BYTES: '300000',
});
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const model = registry.get();
const png = readFileSync(join(DEMO, 'golden_resized.png'));
const exactPng = readFileSync(join(DEMO, 'golden_exact.png'));
const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const form = (entries: [string, string | Buffer][]) => {
  const f = new FormData();
  for (const [k, v] of entries) {
    if (typeof v === 'string') f.append(k, v);
    else f.append(k, new Blob([new Uint8Array(v)], { type: 'application/octet-stream' }), `${k}.bin`);
  }
  return f;
};
async function expectError(t: Test, res: Response, status: number, code?: string) {
  const body = await json(res);
  t.equal(res.status, status, `status ${status} (${JSON.stringify(body)})`);
  t.type(body.error?.message, 'string', 'error message');
  if (code !== undefined) t.equal(body.error?.code, code);
  t.ok(res.headers.get('x-request-id'), 'errors carry X-Request-Id');
  t.equal(res.headers.get('x-service-version'), SERVICE_VERSION);
  return body;
}

t.test('openapi.yaml is OpenAPI 3.1 and documents every route the app serves', (t) => {
  const doc = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as { openapi: string; paths: Record<string, unknown> };
  t.equal(doc.openapi, '3.1.0');
  const served = {
    '/embed/text': 'POST',
    '/embed/image': 'POST',
    '/classify': 'POST',
    '/healthz': 'GET',
    '/readyz': 'GET',
    '/metrics': 'GET',
    '/models': 'GET',
    '/prompt-sets': 'GET',
    '/v1/embeddings': 'POST',
    '/v1/models': 'GET',
    '/': 'GET',
  } as const;
  for (const [path, method] of Object.entries(served)) {
    t.ok(doc.paths[path], `${path} documented`);
    t.ok(app.hasRoute({ url: path, method }), `${method} ${path} served`);
  }
  t.end();
});

t.test('health, readiness, models, prompt sets', async (t) => {
  const health = await fetch(url + '/healthz');
  t.equal(health.status, 200);
  t.same(await json(health), { status: 'ok' });
  t.equal(health.headers.get('x-model-sha256'), model.sha256, 'default model sha256 when no model is named');
  const ready = await fetch(url + '/readyz');
  t.equal(ready.status, 200);
  t.same(await json(ready), { status: 'ready', models: ['unimed-demo'] });
  const models = await json<ModelsBody>(await fetch(url + '/models'));
  t.equal(models.default, 'unimed-demo');
  t.equal(models.models[0]!.sha256, model.sha256);
  t.equal(models.models[0]!.embed_dim, model.embedDim);
  t.equal(models.models[0]!.providers.image, 'cpu');
  const sets = await json<PromptSetsBody>(await fetch(url + '/prompt-sets'));
  const modality = sets.prompt_sets.find((s) => s.name === 'modality')!;
  t.same(modality.labels, ['xray', 'ct', 'mri', 'ultrasound', 'histopathology', 'fundus']);
  t.equal(modality.source, 'service');
  t.match(modality.version, /^[0-9a-f]{16}$/);
  await expectError(t, await fetch(url + '/prompt-sets?model=nope'), 404, 'model_not_found');
});

t.test('X-Request-Id is echoed when sane and replaced when not', async (t) => {
  const echoed = await fetch(url + '/healthz', { headers: { 'x-request-id': 'trace-42.a:b_c' } });
  t.equal(echoed.headers.get('x-request-id'), 'trace-42.a:b_c');
  const replaced = await fetch(url + '/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
  t.match(replaced.headers.get('x-request-id'), /^[0-9a-f-]{36}$/);
  const onError = await postJson('/embed/text', { texts: [] }, { 'x-request-id': 'err-1' });
  t.equal(onError.headers.get('x-request-id'), 'err-1');
  await onError.arrayBuffer();
});

t.test('POST /embed/text', async (t) => {
  const res = await postJson('/embed/text', { texts: ['chest x-ray', 'Crohn’s disease'] });
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-model-sha256'), model.sha256);
  const body = await json<EmbedBody>(res);
  t.equal(body.model, 'unimed-demo');
  t.equal(body.dim, model.embedDim);
  t.equal(body.embeddings.length, 2);
  t.equal(body.embeddings[0]!.length, model.embedDim);
  t.ok(Math.abs(cosine(body.embeddings[0]!, body.embeddings[0]!) - 1) < 1e-6);
  const norm = Math.hypot(...body.embeddings[1]!);
  t.ok(Math.abs(norm - 1) < 1e-5, 'L2-normalized');
  const direct = await model.embedTexts(['chest x-ray']);
  t.ok(cosine(direct[0]!, body.embeddings[0]!) > 0.999999, 'same embedding as the model gives directly');

  await expectError(t, await postJson('/embed/text', { texts: [] }), 400, 'bad_request');
  await expectError(t, await postJson('/embed/text', { texts: 'just a string' }), 400, 'bad_request');
  await expectError(t, await postJson('/embed/text', { texts: ['a'], extra: 1 }), 400, 'bad_request');
  await expectError(t, await postJson('/embed/text', { texts: [1, 2] }), 400, 'bad_request');
  await expectError(t, await postJson('/embed/text', { texts: ['a'], model: 'nope' }), 404, 'model_not_found');
  await expectError(t, await postJson('/embed/text', { texts: ['a', 'b', 'c', 'd', 'e'] }), 413, 'too_many_texts');
  await expectError(t, await postJson('/embed/text', { texts: ['x'.repeat(201)] }), 413, 'text_too_long');
  await expectError(
    t,
    await fetch(url + '/embed/text', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"texts": [' }),
    400,
    'bad_request',
  );
  await expectError(
    t,
    await fetch(url + '/embed/text', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
    415,
    'unsupported_media_type',
  );
  await expectError(
    t,
    await fetch(url + '/embed/text', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) }),
    415,
    'unsupported_media_type',
  );
  await expectError(t, await fetch(url + '/embed/text', { method: 'POST', body: form([['texts', 'a']]) }), 415, 'unsupported_media_type');
  await expectError(t, await postJson('/embed/text', { texts: ['y'.repeat(150)], pad: 'z'.repeat(400_000) }), 413, 'too_large');
});

t.test('POST /embed/image: raw, multipart and JSON forms give the same embeddings', async (t) => {
  const raw = await fetch(url + '/embed/image', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) });
  t.equal(raw.status, 200);
  t.equal(raw.headers.get('x-model-sha256'), model.sha256);
  const rawBody = await json<EmbedBody>(raw);
  t.equal(rawBody.embeddings.length, 1);
  t.same(rawBody.preprocessing[0]!.source, {
    format: 'png',
    width: rawBody.preprocessing[0]!.source.width,
    height: rawBody.preprocessing[0]!.source.height,
    channels: 3,
    bit_depth: 8,
    has_alpha: false,
    pages: 1,
  });
  t.equal(rawBody.preprocessing[0]!.transform.size, model.imageSpec.size);

  const multi = await fetch(url + '/embed/image', {
    method: 'POST',
    body: form([
      ['image', png],
      ['image', exactPng],
    ]),
  });
  t.equal(multi.status, 200);
  const multiBody = await json<EmbedBody>(multi);
  t.equal(multiBody.embeddings.length, 2, 'one embedding per part, in order');
  t.equal(multiBody.preprocessing[1]!.transform.resize, null, 'golden_exact needs no resize');

  const viaJson = await postJson('/embed/image', {
    images: [exactPng.toString('base64'), `data:image/png;base64,${png.toString('base64')}`],
  });
  t.equal(viaJson.status, 200);
  const jsonBody = await json<EmbedBody>(viaJson);
  t.ok(cosine(rawBody.embeddings[0]!, multiBody.embeddings[0]!) > 0.999999, 'raw == multipart');
  t.ok(cosine(rawBody.embeddings[0]!, jsonBody.embeddings[1]!) > 0.999999, 'raw == JSON');
  t.ok(cosine(multiBody.embeddings[1]!, jsonBody.embeddings[0]!) > 0.999999, 'multipart == JSON, order kept');
  t.ok(cosine(jsonBody.embeddings[0]!, jsonBody.embeddings[1]!) < 0.9999, 'different images differ');

  const golden = JSON.parse(readFileSync(join(DEMO, 'golden.json'), 'utf8')) as { images: { kind: string; embedding: number[] }[] };
  const tolerances = (
    JSON.parse(readFileSync(join(DEMO, 'model.json'), 'utf8')) as {
      golden: { image_exact_min_cosine: number; image_resized_min_cosine: number };
    }
  ).golden;
  const exactGolden = golden.images.find((i) => i.kind === 'exact')!.embedding;
  const resizedGolden = golden.images.find((i) => i.kind === 'resized')!.embedding;
  t.ok(cosine(jsonBody.embeddings[0]!, exactGolden) >= tolerances.image_exact_min_cosine, 'golden_exact through HTTP');
  t.ok(cosine(jsonBody.embeddings[1]!, resizedGolden) >= tolerances.image_resized_min_cosine, 'golden_resized through HTTP');

  const byQuery = await fetch(url + '/embed/image?model=unimed-demo', {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: new Uint8Array(png),
  });
  t.equal(byQuery.status, 200);
  await byQuery.arrayBuffer();
});

t.test('POST /embed/image errors', async (t) => {
  const rawPost = (body: Buffer, type: string, query = '') =>
    fetch(url + '/embed/image' + query, { method: 'POST', headers: { 'content-type': type }, body: new Uint8Array(body) });
  const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
  await expectError(t, await rawPost(png, 'image/gif'), 415, 'unsupported_media_type');
  await expectError(t, await rawPost(png, 'application/octet-stream'), 415, 'unsupported_media_type');
  await expectError(t, await postJson('/embed/image', { images: [gif.toString('base64')] }), 415, 'unsupported_media_type');
  await expectError(t, await rawPost(png.subarray(0, 200), 'image/png'), 422, 'undecodable');
  await expectError(t, await rawPost(Buffer.from('definitely not an image'), 'image/jpeg'), 422, 'undecodable');
  await expectError(t, await postJson('/embed/image', { images: ['***not base64***'] }), 400, 'bad_request');
  await expectError(t, await postJson('/embed/image', { images: [] }), 400, 'bad_request');
  await expectError(t, await rawPost(png, 'image/png', '?model=nope'), 404, 'model_not_found');
  await expectError(t, await rawPost(png, 'image/png', '?unknown=1'), 400, 'bad_request');
  const many = [png, png, png, png].map((b) => b.toString('base64'));
  await expectError(t, await postJson('/embed/image', { images: many }), 413, 'too_many_images');
  await expectError(
    t,
    await fetch(url + '/embed/image', {
      method: 'POST',
      body: form([
        ['image', png],
        ['image', png],
        ['image', png],
        ['image', png],
      ]),
    }),
    413,
  );
  await expectError(t, await fetch(url + '/embed/image', { method: 'POST', body: form([['picture', png]]) }), 400, 'bad_request');
  await expectError(t, await fetch(url + '/embed/image', { method: 'POST', body: form([['model', 'unimed-demo']]) }), 400, 'bad_request');
  // 1001 x 1000 pixels: past MAX_IMAGE_PIXELS (1e6) but a small file (a flat colour compresses well).
  const huge = await sharp({ create: { width: 1001, height: 1000, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  await expectError(t, await rawPost(huge, 'image/png'), 413, 'image_too_large');
  const big = Buffer.concat([png, Buffer.alloc(300_001)]);
  await expectError(t, await rawPost(big, 'image/png'), 413, 'too_large');
  await expectError(t, await fetch(url + '/embed/image', { method: 'POST', body: form([['image', big]]) }), 413, 'too_large');
  const truncatedMultipart = await fetch(url + '/embed/image', {
    method: 'POST',
    headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
    body: '--XYZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc',
  });
  t.ok([400, 422].includes(truncatedMultipart.status), `truncated multipart is a client error (${truncatedMultipart.status})`);
  await truncatedMultipart.arrayBuffer();
});

t.test('POST /classify with inline labels (JSON and multipart agree)', async (t) => {
  const labels = ['chest x-ray', 'brain mri', 'retinal fundus'];
  const viaJson = await postJson('/classify', { image: png.toString('base64'), labels, templates: ['a {} image.', 'a photo of a {}.'] });
  t.equal(viaJson.status, 200);
  const a = await json<ClassifyBody>(viaJson);
  t.equal(a.model, 'unimed-demo');
  t.equal(a.prompt_set, undefined);
  t.equal(a.predictions.length, 3);
  t.same(a.predictions.map((p) => p.label).sort(), [...labels].sort());
  const sum = a.predictions.reduce((s, p) => s + p.probability, 0);
  t.ok(Math.abs(sum - 1) < 1e-9, 'probabilities sum to 1 over the labels');
  for (let i = 1; i < a.predictions.length; i++) t.ok(a.predictions[i - 1]!.probability >= a.predictions[i]!.probability, 'sorted');
  t.equal(a.preprocessing.source.format, 'png');

  const viaForm = await fetch(url + '/classify', {
    method: 'POST',
    body: form([
      ['image', png],
      ['labels', JSON.stringify(labels)],
      ['templates', 'a {} image.'],
      ['templates', 'a photo of a {}.'],
    ]),
  });
  t.equal(viaForm.status, 200);
  const b = await json<ClassifyBody>(viaForm);
  t.same(
    b.predictions.map((p) => p.label),
    a.predictions.map((p) => p.label),
  );
  for (let i = 0; i < 3; i++) t.ok(Math.abs(b.predictions[i]!.probability - a.predictions[i]!.probability) < 1e-6, 'same probabilities');

  const topK = await json<ClassifyBody>(
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', png],
        ['labels', 'a'],
        ['labels', 'b'],
        ['labels', 'c'],
        ['top_k', '1'],
      ]),
    }),
  );
  t.equal(topK.predictions.length, 1, 'top_k from a form field');
  const objectLabels = await json<ClassifyBody>(
    await postJson('/classify', { image: png.toString('base64'), labels: [{ name: 'xr', text: 'chest x-ray' }, 'mri'], top_k: 5 }),
  );
  t.same(objectLabels.predictions.map((p) => p.label).sort(), ['mri', 'xr']);
});

t.test('POST /classify with a prompt set on synthetic images', async (t) => {
  const images = (await syntheticImages(1, 3)).map((image) => image.bytes);
  t.equal(images.length, 6, 'one image of each modality');
  const set = registry.get().promptSet('modality');
  t.ok(set, 'the PROMPT_SETS file was loaded');
  for (const image of images) {
    const res = await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', image],
        ['prompt_set', 'modality'],
      ]),
    });
    t.equal(res.status, 200);
    const body = await json<ClassifyBody>(res);
    t.same(body.prompt_set, { name: 'modality', version: set!.info.version });
    t.equal(body.predictions.length, 6);
    // The prompt set's class embeddings equal inline labels x templates through the cache.
    const inline = await json<ClassifyBody>(
      await postJson('/classify', {
        image: image.toString('base64'),
        labels: ['xray', 'ct', 'mri', 'ultrasound', 'histopathology', { name: 'fundus', text: 'retinal fundus' }],
        templates: ['a {} image.', 'a medical {} scan.'],
      }),
    );
    t.same(
      inline.predictions.map((p) => p.label),
      body.predictions.map((p) => p.label),
    );
    t.ok(Math.abs(inline.predictions[0]!.probability - body.predictions[0]!.probability) < 1e-5);
  }
});

t.test('POST /classify errors', async (t) => {
  const b64 = png.toString('base64');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'b'], prompt_set: 'modality' }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64 }), 400, 'bad_request');
  await expectError(
    t,
    await fetch(url + '/classify', { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(png) }),
    415,
    'unsupported_media_type',
  );
  await expectError(t, await postJson('/classify', { image: b64, prompt_set: 'modality', templates: ['a {}'] }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['only one'] }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'a'] }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'b'], templates: ['no placeholder'] }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'b'], top_k: 0 }), 400, 'bad_request');
  await expectError(t, await postJson('/classify', { image: b64, prompt_set: 'nope' }), 404, 'prompt_set_not_found');
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'b'], model: 'nope' }), 404, 'model_not_found');
  await expectError(
    t,
    await postJson('/classify', { image: b64, labels: ['a', 'b', 'c', 'd', 'e'], templates: ['1 {}', '2 {}', '3 {}'] }),
    413,
    'too_many_prompts',
  );
  await expectError(t, await postJson('/classify', { image: b64, labels: ['a', 'b'.repeat(201)] }), 413, 'text_too_long');
  await expectError(t, await postJson('/classify', { image: Buffer.from('GIF89a....').toString('base64'), labels: ['a', 'b'] }), 415);
  await expectError(
    t,
    await postJson('/classify', { image: png.subarray(0, 100).toString('base64'), labels: ['a', 'b'] }),
    422,
    'undecodable',
  );
  await expectError(
    t,
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', png],
        ['image', png],
        ['labels', 'a'],
        ['labels', 'b'],
      ]),
    }),
    413,
  );
  await expectError(
    t,
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', png],
        ['labels', '[not json'],
      ]),
    }),
    400,
    'bad_request',
  );
  await expectError(
    t,
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', png],
        ['labels', 'a'],
        ['labels', 'b'],
        ['top_k', 'two'],
      ]),
    }),
    400,
    'bad_request',
  );
  await expectError(
    t,
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['labels', 'a'],
        ['labels', 'b'],
      ]),
    }),
    400,
    'bad_request',
  );
  await expectError(
    t,
    await fetch(url + '/classify', {
      method: 'POST',
      body: form([
        ['image', png],
        ['labels', 'a'],
        ['labels', 'b'],
        ['colour', 'red'],
      ]),
    }),
    400,
    'bad_request',
  );
});

t.test('unknown routes are 404 JSON; /metrics labels by route template', async (t) => {
  await expectError(t, await fetch(url + '/nope/123'), 404, 'route_not_found');
  await expectError(t, await fetch(url + '/embed/text'), 404);
  // The series checked below, made here so that this test does not depend on the ones before it.
  t.equal((await postJson('/embed/text', { texts: ['metrics probe'] })).status, 200);
  await expectError(
    t,
    await postJson('/classify', { image: png.toString('base64'), labels: ['a', 'b'.repeat(201)] }),
    413,
    'text_too_long',
  );
  const res = await fetch(url + '/metrics');
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/plain/);
  const text = await res.text();
  t.match(text, /http_request_duration_seconds_count\{[^}]*route="\/embed\/text"[^}]*status_code="200"/);
  t.match(text, /http_request_duration_seconds_count\{[^}]*route="\/classify"[^}]*status_code="413"/);
  t.notMatch(text, /route="\/nope\/123"/, 'raw URLs never become labels');
  t.match(text, /unimed_model_info\{/);
});
