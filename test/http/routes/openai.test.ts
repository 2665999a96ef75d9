// The OpenAI-compatible routes (/v1/embeddings, /v1/models) through the clients people use: the official `openai`
// npm client and LangChain's OpenAIEmbeddings, against a real server (127.0.0.1:0, the demo model and a copy that
// declares embedding_truncation). Vectors must equal the native routes' for the same inputs, in float and base64;
// errors must reach the clients as OpenAI errors with the native routes' statuses.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OpenAIEmbeddings } from '@langchain/openai';
import OpenAI, { APIError } from 'openai';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { cleanText } from '../../../src/models/clean.ts';
import { TextTokenizer } from '../../../src/models/tokenizer.ts';
import { ct } from '../../fixtures/dicom/images.ts';
import { imageDicom } from '../../fixtures/dicom/writer.ts';
import { counter, copyDemo } from '../../helpers/engine-fixtures.ts';
import { DEMO, loadRegistry, maxAbsDiff, ROOT } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';

const { dir: truncDir, cleanup } = await copyDemo();
const manifest = JSON.parse(await readFile(join(truncDir, 'model.json'), 'utf8')) as Record<string, unknown>;
// model.json is not part of the model sha256: the copy is the same model under another id, declaring truncation.
await writeFile(join(truncDir, 'model.json'), JSON.stringify({ ...manifest, id: 'demo-trunc', embedding_truncation: true }));

const KEYS = {
  all: 'openai-all-0123456789abcdef',
  demoOnly: 'openai-demo-0123456789abcdef',
  textRoute: 'openai-text-0123456789abcdef',
  v1Only: 'openai-v1-0123456789abcdef',
  limited: 'openai-limited-0123456789abcdef',
};
const { registry, metrics, config } = await loadRegistry({
  MODEL_DIRS: `${DEMO},${truncDir}`,
  MAX_TEXTS_PER_REQUEST: '4',
  MAX_CHARS_PER_TEXT: '300',
  MAX_IMAGES_PER_REQUEST: '2',
  MAX_IMAGE_PIXELS: '100000',
  MAX_BODY_BYTES: '400000',
  API_KEYS: [
    `all:${KEYS.all}`,
    `demo-only:${KEYS.demoOnly} models=unimed-demo`,
    `text-route:${KEYS.textRoute} routes=embed_text`,
    `v1-only:${KEYS.v1Only} routes=v1_embeddings,v1_models`,
    `limited:${KEYS.limited} rate=1/minute`,
  ].join(', '),
});
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
  await cleanup();
});

const baseURL = `${url}/v1`;
const client = (apiKey = KEYS.all, options: Partial<ConstructorParameters<typeof OpenAI>[0]> = {}) =>
  new OpenAI({ apiKey, baseURL, maxRetries: 0, ...options });
const native = async (path: string, body: unknown): Promise<{ embeddings: number[][] }> => {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.all}` },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { embeddings: number[][] };
};
const v1 = (path: string, body: unknown, key = KEYS.all) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === '' ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  });

/** The JSON a client sent (the clients send it as a string). */
const sentBody = (init: RequestInit | undefined): Record<string, unknown> =>
  JSON.parse(typeof init?.body === 'string' ? init.body : '{}') as Record<string, unknown>;

/** Each vector equals the expected one within 1e-6 (the same computation: in fact exactly). */
function sameVectors(t: Test, got: ArrayLike<number>[], expected: number[][], what: string): void {
  t.equal(got.length, expected.length, `${what}: one vector per input`);
  got.forEach((vector, i) => {
    t.equal(vector.length, expected[i]!.length, `${what} ${i}: dimension`);
    t.ok(maxAbsDiff(vector, expected[i]!) <= 1e-6, `${what} ${i}: equals the native route's within 1e-6`);
  });
}

const TEXTS = ['chest x-ray', 'a CT scan of the abdomen', 'chest x-ray'];
const png = await readFile(join(DEMO, 'golden_resized.png'));
const jpeg = await sharp(png).jpeg({ quality: 90 }).toBuffer();
const dicom = imageDicom(ct());
const dataUrl = (type: string, bytes: Buffer) => `data:${type};base64,${bytes.toString('base64')}`;
const IMAGES = [dataUrl('image/png', png), dataUrl('image/jpeg', jpeg)];

const demoSpec = JSON.parse(await readFile(join(DEMO, 'model.json'), 'utf8')) as {
  text: { context_length: number; pad_id: number; cls_id: number; sep_id: number };
};
const tokenizer = await TextTokenizer.load(DEMO, 'tokenizer.json', {
  contextLength: demoSpec.text.context_length,
  padId: demoSpec.text.pad_id,
  clsId: demoSpec.text.cls_id,
  sepId: demoSpec.text.sep_id,
});
const tokensOf = (texts: string[]) => texts.reduce((n, text) => n + tokenizer.encodeCleaned(cleanText(text)).length, 0);

t.test('openai client, texts: float and base64 (its default) equal /embed/text; usage counts the tokenizer tokens', async (t) => {
  const expected = (await native('/embed/text', { texts: TEXTS })).embeddings;
  const asFloat = await client().embeddings.create({ model: 'unimed-demo', input: TEXTS, encoding_format: 'float' });
  sameVectors(
    t,
    asFloat.data.map((d) => d.embedding),
    expected,
    'float',
  );
  t.same(
    asFloat.data.map((d) => [d.object, d.index]),
    TEXTS.map((_, i) => ['embedding', i]),
  );
  t.equal(asFloat.object, 'list');
  t.equal(asFloat.model, 'unimed-demo');
  const tokens = tokensOf(TEXTS);
  t.ok(tokens > TEXTS.length * 2, 'more than [CLS] and [SEP] per text');
  t.same(asFloat.usage, { prompt_tokens: tokens, total_tokens: tokens }, 'every text counted, the repeat too');

  const wire: unknown[] = [];
  const recording: typeof fetch = async (input, init) => {
    wire.push(sentBody(init));
    return fetch(input, init);
  };
  const byDefault = await client(KEYS.all, { fetch: recording }).embeddings.create({ model: 'unimed-demo', input: TEXTS });
  t.match(wire, [{ encoding_format: 'base64' }], 'the client asks for base64 when not told');
  sameVectors(
    t,
    byDefault.data.map((d) => d.embedding),
    expected,
    'base64 decoded by the client',
  );
  const single = await client().embeddings.create({ model: 'unimed-demo', input: 'chest x-ray', encoding_format: 'base64' });
  const raw = Buffer.from(single.data[0]!.embedding, 'base64');
  const decoded = Array.from({ length: raw.length / 4 }, (_, i) => raw.readFloatLE(i * 4));
  sameVectors(t, [decoded], [expected[0]!], 'base64 as sent: little-endian float32');
});

t.test('openai client, images: modality "image" as an extra body field; PNG, JPEG and DICOM data URLs equal /embed/image', async (t) => {
  const expected = (await native('/embed/image', { images: IMAGES })).embeddings;
  for (const encoding_format of ['float', 'base64'] as const) {
    const params = { model: 'unimed-demo', input: IMAGES, encoding_format, modality: 'image' } as OpenAI.EmbeddingCreateParams;
    const answer = await client().embeddings.create(params);
    const vectors = answer.data.map((d) =>
      typeof d.embedding === 'string'
        ? Array.from(new Float32Array(new Uint8Array(Buffer.from(d.embedding, 'base64')).buffer))
        : d.embedding,
    );
    sameVectors(t, vectors, expected, encoding_format);
    t.same(answer.usage, { prompt_tokens: 0, total_tokens: 0 }, 'images count no tokens');
  }
  const fromDicom = (await native('/embed/image', { images: [dataUrl('application/dicom', dicom)] })).embeddings;
  const dicomAnswer = await client().embeddings.create({
    model: 'unimed-demo',
    input: [dataUrl('application/dicom', dicom)],
    modality: 'image',
  } as OpenAI.EmbeddingCreateParams);
  sameVectors(
    t,
    dicomAnswer.data.map((d) => d.embedding),
    fromDicom,
    'DICOM',
  );
});

t.test("vLLM's messages form: one text or one image_url part, one embedding", async (t) => {
  const image = (await native('/embed/image', { images: [IMAGES[0]] })).embeddings;
  const text = (await native('/embed/text', { texts: ['brain MRI'] })).embeddings;
  const message = (content: unknown) =>
    ({ model: 'unimed-demo', messages: [{ role: 'user', content }], encoding_format: 'float' }) as unknown as OpenAI.EmbeddingCreateParams;
  const fromImage = await client().embeddings.create(message([{ type: 'image_url', image_url: { url: IMAGES[0] } }]));
  sameVectors(
    t,
    fromImage.data.map((d) => d.embedding),
    image,
    'image_url part',
  );
  const fromText = await client().embeddings.create(message('brain MRI'));
  sameVectors(
    t,
    fromText.data.map((d) => d.embedding),
    text,
    'text content',
  );
  t.same(fromText.usage.prompt_tokens, tokensOf(['brain MRI']));
  const fromPart = await client().embeddings.create(message([{ type: 'text', text: 'brain MRI' }]));
  sameVectors(
    t,
    fromPart.data.map((d) => d.embedding),
    text,
    'text part',
  );
  const two = [
    { type: 'text', text: 'brain MRI' },
    { type: 'image_url', image_url: { url: IMAGES[0] } },
  ];
  const error = await client()
    .embeddings.create(message(two))
    .catch((e: unknown) => e);
  t.type(error, OpenAI.BadRequestError);
  t.match((error as APIError).error, { type: 'invalid_request_error', param: 'messages', code: 'bad_request' });
});

t.test('the same cache as /embed/text: a text embedded there is a cache hit here', async (t) => {
  const text = 'a cache test text for the openai route';
  await native('/embed/text', { texts: [text] });
  const before = await counter(metrics, 'unimed_text_cache_hits_total', { model: 'unimed-demo' });
  await client().embeddings.create({ model: 'unimed-demo', input: text });
  t.equal(await counter(metrics, 'unimed_text_cache_hits_total', { model: 'unimed-demo' }), before + 1);
});

t.test("LangChain's OpenAIEmbeddings: documents and queries, base64 (its default on the wire) and float", async (t) => {
  const expected = (await native('/embed/text', { texts: ['chest x-ray', 'a CT scan\nof the abdomen'] })).embeddings;
  for (const encodingFormat of [undefined, 'float'] as const) {
    const wire: Record<string, unknown>[] = [];
    const recording: typeof fetch = async (input, init) => {
      wire.push(sentBody(init));
      return fetch(input, init);
    };
    const embeddings = new OpenAIEmbeddings({
      model: 'unimed-demo',
      apiKey: KEYS.all,
      batchSize: 4,
      ...(encodingFormat === undefined ? {} : { encodingFormat }),
      configuration: { baseURL, fetch: recording },
    });
    const documents = await embeddings.embedDocuments(['chest x-ray', 'a CT scan\nof the abdomen']);
    sameVectors(t, documents, expected, `documents (${encodingFormat ?? 'default'})`);
    const query = await embeddings.embedQuery('chest x-ray');
    sameVectors(t, [query], [expected[0]!], `query (${encodingFormat ?? 'default'})`);
    t.equal(wire[0]?.encoding_format, encodingFormat ?? 'base64', 'what went on the wire');
    t.same(wire[0]?.input, ['chest x-ray', 'a CT scan of the abdomen'], 'strings (newlines replaced), never token ids');
  }
});

t.test("LangChain's OpenAIEmbeddings, images: modality added by a custom fetch (docs/clients.md)", async (t) => {
  const expected = (await native('/embed/image', { images: IMAGES })).embeddings;
  const withModality: typeof fetch = (input, init) =>
    fetch(input, { ...init, body: JSON.stringify({ ...sentBody(init), modality: 'image' }) });
  const embeddings = new OpenAIEmbeddings({ model: 'unimed-demo', apiKey: KEYS.all, configuration: { baseURL, fetch: withModality } });
  sameVectors(t, await embeddings.embedDocuments(IMAGES), expected, 'images');
});

t.test("dimensions: the model's own is accepted; fewer only where model.json declares embedding_truncation", async (t) => {
  const full = (await native('/embed/text', { texts: ['chest x-ray'] })).embeddings;
  const own = await client().embeddings.create({ model: 'unimed-demo', input: 'chest x-ray', dimensions: 64, encoding_format: 'float' });
  sameVectors(
    t,
    own.data.map((d) => d.embedding),
    full,
    'dimensions 64',
  );
  const refused = await client()
    .embeddings.create({ model: 'unimed-demo', input: 'chest x-ray', dimensions: 32 })
    .catch((e: unknown) => e);
  t.type(refused, OpenAI.BadRequestError);
  t.match((refused as APIError).error, { param: 'dimensions', message: /does not declare that they may be truncated/ });
  const cut = await client().embeddings.create({ model: 'demo-trunc', input: 'chest x-ray', dimensions: 16, encoding_format: 'float' });
  const vector = cut.data[0]!.embedding;
  t.equal(vector.length, 16);
  const norm = Math.hypot(...full[0]!.slice(0, 16));
  sameVectors(t, [vector], [full[0]!.slice(0, 16).map((x) => x / norm)], 'the first 16 values, normalized again');
  const over = await v1('/v1/embeddings', { model: 'demo-trunc', input: 'x', dimensions: 65 });
  t.equal(over.status, 400);
  t.match(await over.json(), { error: { param: 'dimensions', message: /64 at most/ } });
});

t.test("GET /v1/models: every model the key may use, in OpenAI's list shape", async (t) => {
  const all = await client().models.list();
  t.same(
    all.data.map((m) => [m.id, m.object, m.owned_by]),
    [
      ['unimed-demo', 'model', 'unimed-serve'],
      ['demo-trunc', 'model', 'unimed-serve'],
    ],
  );
  const exportedAt = Math.floor(Date.parse((manifest.provenance as { exported_at: string }).exported_at) / 1000);
  t.equal(all.data[0]!.created, exportedAt, 'created: when the model was exported');
  const scoped = await client(KEYS.demoOnly).models.list();
  t.same(
    scoped.data.map((m) => m.id),
    ['unimed-demo'],
    'a key with models= sees only those',
  );
  const forbidden = await client(KEYS.demoOnly)
    .embeddings.create({ model: 'demo-trunc', input: 'x' })
    .catch((e: unknown) => e);
  t.type(forbidden, OpenAI.PermissionDeniedError);
  t.match((forbidden as APIError).error, { type: 'permission_error', code: 'forbidden' });
});

t.test('errors reach the openai client as OpenAI errors with the native statuses', async (t) => {
  const expectError = async (
    what: string,
    call: Promise<unknown>,
    type: new (...args: never[]) => APIError,
    status: number,
    error: Record<string, unknown>,
  ) => {
    const thrown = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(thrown, type, `${what}: ${type.name}`);
    t.equal((thrown as APIError).status, status, `${what}: ${status}`);
    t.match((thrown as APIError).error, error, `${what}: body`);
  };
  const embed = (params: Record<string, unknown>, apiKey?: string) =>
    client(apiKey).embeddings.create({ model: 'unimed-demo', input: 'x', ...params } as OpenAI.EmbeddingCreateParams);
  await expectError('unknown model', embed({ model: 'text-embedding-3-small' }), OpenAI.NotFoundError, 404, {
    type: 'invalid_request_error',
    param: 'model',
    code: 'model_not_found',
  });
  await expectError('wrong key', embed({}, 'not-a-key-0123456789abcdef'), OpenAI.AuthenticationError, 401, {
    type: 'authentication_error',
    param: null,
    code: 'unauthorized',
  });
  await expectError('route not in routes=', embed({}, KEYS.textRoute), OpenAI.PermissionDeniedError, 403, {
    type: 'permission_error',
    message: /may not call v1_embeddings/,
  });
  await expectError('token ids', embed({ input: [[101, 2023, 102]] }), OpenAI.BadRequestError, 400, {
    param: 'input',
    message: /check_embedding_ctx_length=False/,
  });
  await expectError('a plain URL', embed({ input: ['https://example.org/x.png'], modality: 'image' }), OpenAI.BadRequestError, 400, {
    param: 'input',
    message: /fetches no image/,
  });
  await expectError(
    'a DICOMweb reference',
    embed({ input: [{ dicomweb: { source: 's', study: '1', series: '2', instance: '3' } }], modality: 'image' }),
    OpenAI.BadRequestError,
    400,
    { param: 'input', message: /POST \/embed\/image/ },
  );
  await expectError('an image without modality', embed({ input: IMAGES[0] }), OpenAI.BadRequestError, 400, {
    message: /"modality": "image"/,
  });
  await expectError('too many texts', embed({ input: ['a', 'b', 'c', 'd', 'e'] }), APIError, 413, {
    param: 'input',
    code: 'too_many_texts',
  });
  await expectError('a text too long', embed({ input: ['a '.repeat(200)] }), APIError, 413, {
    param: 'input',
    code: 'text_too_long',
  });
  await expectError('too many images', embed({ input: [IMAGES[0], IMAGES[0], IMAGES[0]], modality: 'image' }), APIError, 413, {
    param: 'input',
    code: 'too_many_images',
  });
  const big = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  await expectError('too many pixels', embed({ input: [dataUrl('image/png', big)], modality: 'image' }), APIError, 413, {
    code: 'image_too_large',
  });
  await expectError(
    'not an image',
    embed({ input: [dataUrl('image/png', Buffer.from('not an image at all'))], modality: 'image' }),
    OpenAI.UnprocessableEntityError,
    422,
    { code: 'undecodable' },
  );
  await embed({}, KEYS.limited);
  await expectError('over the key rate', embed({}, KEYS.limited), OpenAI.RateLimitError, 429, {
    type: 'rate_limit_error',
    code: 'rate_limited',
  });
});

t.test("LangChain's errors are the openai client's, with the status", async (t) => {
  const unknown = new OpenAIEmbeddings({ model: 'text-embedding-3-small', apiKey: KEYS.all, maxRetries: 0, configuration: { baseURL } });
  const thrown = await unknown.embedQuery('x').catch((e: unknown) => e);
  t.type(thrown, OpenAI.NotFoundError);
  t.match(thrown, { status: 404, error: { code: 'model_not_found' } });
  const badKey = new OpenAIEmbeddings({
    model: 'unimed-demo',
    apiKey: 'wrong-0123456789abcdef',
    maxRetries: 0,
    configuration: { baseURL },
  });
  t.match(await badKey.embedQuery('x').catch((e: unknown) => e), { status: 401, error: { type: 'authentication_error' } });
});

t.test('OpenAI error shape on /v1 for refusals before the handler, unknown /v1 paths, and not elsewhere', async (t) => {
  const shape = { error: { message: String, type: String, param: null, code: String } };
  const noKey = await v1('/v1/embeddings', { model: 'unimed-demo', input: 'x' }, '');
  t.equal(noKey.status, 401);
  t.match(await noKey.json(), { error: { type: 'authentication_error', code: 'unauthorized' } });
  t.match(noKey.headers.get('www-authenticate'), /^Bearer/);
  const declared = await fetch(url + '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': '500000', authorization: `Bearer ${KEYS.all}` },
    body: 'x'.repeat(500_000),
  });
  t.equal(declared.status, 413);
  t.match(await declared.json(), { error: { type: 'invalid_request_error', code: 'too_large', param: null } });
  const text = await fetch(url + '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'image/png', authorization: `Bearer ${KEYS.all}` },
    body: new Uint8Array(png),
  });
  t.equal(text.status, 415);
  t.match(await text.json(), { error: { code: 'unsupported_media_type', type: 'invalid_request_error' } });
  const invalid = await fetch(url + '/v1/embeddings', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.all}` },
    body: '{"model": ',
  });
  t.equal(invalid.status, 400);
  t.match(await invalid.json(), shape);
  const missing = await fetch(url + '/v1/nothing-here', { headers: { authorization: `Bearer ${KEYS.all}` } });
  t.equal(missing.status, 404);
  t.match(await missing.json(), { error: { type: 'invalid_request_error', code: 'route_not_found', param: null } });
  const nativeMissing = await fetch(url + '/nothing-here', { headers: { authorization: `Bearer ${KEYS.all}` } });
  t.same(Object.keys(((await nativeMissing.json()) as { error: object }).error).sort(), ['code', 'message'], 'native shape elsewhere');
  const both = await v1('/v1/embeddings', { model: 'unimed-demo', input: 'x', messages: [{ role: 'user', content: 'x' }] });
  t.match(await both.json(), { error: { message: /either input or messages/ } });
  const v1Key = await fetch(url + '/v1/models', { headers: { authorization: `Bearer ${KEYS.v1Only}` } });
  t.equal(v1Key.status, 200, 'routes=v1_embeddings,v1_models names the new routes');
  const nativeForV1Key = await fetch(url + '/models', { headers: { authorization: `Bearer ${KEYS.v1Only}` } });
  t.equal(nativeForV1Key.status, 403);
});

t.test("docs/clients.md's OpenAI-compatible snippet runs as written against the service", async (t) => {
  const page = await readFile(join(ROOT, 'docs/clients.md'), 'utf8');
  const section = page.slice(page.indexOf('## OpenAI-compatible clients'));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (snippet === undefined) throw new Error('docs/clients.md has no ts block under "OpenAI-compatible clients"');
  const work = await mkdtemp(join(tmpdir(), 'unimed-openai-snippet-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  for (const name of ['node_modules', 'examples', 'package.json']) await symlink(join(ROOT, name), join(work, name));
  await writeFile(join(work, 'snippet.ts'), snippet);
  const { stdout } = await promisify(execFile)(process.execPath, ['snippet.ts'], {
    cwd: work,
    env: { PATH: process.env.PATH ?? '', UNIMED_URL: url, UNIMED_API_KEY: KEYS.all },
    timeout: 60_000,
  });
  t.same(stdout.trim().split('\n'), [`2 ${tokensOf(['chest x-ray', 'brain MRI'])} 64`, '2 64 64'], 'what the snippet prints');
});
