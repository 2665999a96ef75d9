// The Open Inference Protocol (KServe v2) routes end to end: a real server on 127.0.0.1:0 over the demo model,
// requests written from the specification's examples, every answer held to the protocol's own schemas
// (test/fixtures/open-inference/protocol.ts), embeddings equal to /embed/text and /embed/image.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { DEMO, loadRegistry, testConfig } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';
import {
  binaryBytes,
  binaryRequest,
  protocolProblems,
  readBinaryAnswer,
  type ProtocolPayload,
} from '../../fixtures/open-inference/protocol.ts';
import { Metrics } from '../../../src/metrics.ts';

const { registry, metrics, config } = await loadRegistry({
  MAX_TEXTS_PER_REQUEST: '4',
  MAX_IMAGES_PER_REQUEST: '3',
  MAX_TEXT_BODY_BYTES: '2048',
  MAX_BODY_BYTES: '300000',
  MAX_IMAGE_PIXELS: '1000000',
});
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const model = registry.get();
const png = readFileSync(join(DEMO, 'golden_resized.png'));
const jpeg = await sharp(png).jpeg({ quality: 95 }).toBuffer();
const TEXT = '/v2/models/unimed-demo-text';
const IMAGE = '/v2/models/unimed-demo-image';

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

/** The answer's JSON body, held to the protocol's `payload` schema. */
async function protocolAnswer<T>(t: Test, res: Response, status: number, payload: ProtocolPayload): Promise<T> {
  const body = (await res.json()) as T;
  t.equal(res.status, status, `status ${status} (${JSON.stringify(body).slice(0, 200)})`);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.same(protocolProblems(payload, body), [], `the body is the protocol's ${payload}`);
  return body;
}

/** An error in the protocol's shape, `{"error": "<message>"}` and nothing else, whose message matches `message`. */
async function protocolError(t: Test, res: Response, status: number, message: RegExp): Promise<void> {
  const body = await protocolAnswer<{ error: string }>(t, res, status, 'error_response');
  t.same(Object.keys(body), ['error'], 'the protocol error shape');
  t.match(body.error, message);
}

interface InferBody {
  model_name: string;
  id?: string;
  outputs: { name: string; datatype: string; shape: number[]; data: number[] }[];
}

/** Rows of `dim` from the flat row-major data. */
const rows = (data: number[], dim: number): number[][] =>
  Array.from({ length: data.length / dim }, (_, i) => data.slice(i * dim, (i + 1) * dim));
const maxDiff = (a: number[][], b: number[][]): number => Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))));

async function nativeEmbeddings(path: string, body: unknown): Promise<number[][]> {
  return ((await (await postJson(path, body)).json()) as { embeddings: number[][] }).embeddings;
}

t.test('server metadata, liveness and readiness', async (t) => {
  const meta = await protocolAnswer<{ extensions: string[] }>(t, await fetch(url + '/v2'), 200, 'metadata_server_response');
  t.match(meta, { name: 'unimed-serve', extensions: ['binary_tensor_data'] });
  t.same(await protocolAnswer(t, await fetch(url + '/v2/health/live'), 200, 'live_server_response'), { live: true });
  t.same(await protocolAnswer(t, await fetch(url + '/v2/health/ready'), 200, 'ready_server_response'), { ready: true });
});

t.test('model metadata and readiness of each encoder', async (t) => {
  for (const [name, input] of [
    ['unimed-demo-text', 'text'],
    ['unimed-demo-image', 'image'],
  ] as const) {
    const res = await fetch(`${url}/v2/models/${name}`);
    t.equal(res.headers.get('x-model-sha256'), model.sha256);
    t.same(await protocolAnswer(t, res, 200, 'metadata_model_response'), {
      name,
      platform: 'onnxruntime_onnx',
      inputs: [{ name: input, datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'embedding', datatype: 'FP32', shape: [-1, model.embedDim] }],
    });
    t.same(await protocolAnswer(t, await fetch(`${url}/v2/models/${name}/ready`), 200, 'ready_model_response'), { name, ready: true });
  }
  for (const name of ['unimed-demo', 'nope-text', 'unimed-demo-audio']) {
    await protocolError(t, await fetch(`${url}/v2/models/${name}`), 404, /no model "[^"]+" here/);
    await protocolError(t, await fetch(`${url}/v2/models/${name}/ready`), 404, /no model/);
  }
  await protocolError(t, await fetch(`${url}/v2/models/unimed-demo-text/versions/1`), 404, /no route GET/);
});

t.test('text inference: the specification example with this model input, equal to /embed/text', async (t) => {
  const texts = ['chest x-ray', 'a CT scan of the abdomen', 'Crohn’s disease'];
  // As the specification's example request: an id, one input with shape, datatype and data, the output asked for.
  const request = { id: '42', inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', data: texts }], outputs: [{ name: 'embedding' }] };
  const res = await postJson(`${TEXT}/infer`, request);
  t.equal(res.headers.get('x-model-sha256'), model.sha256);
  const body = await protocolAnswer<InferBody>(t, res, 200, 'inference_response');
  t.equal(body.model_name, 'unimed-demo-text');
  t.equal(body.id, '42', 'the id is echoed');
  const [output] = body.outputs;
  t.match(output, { name: 'embedding', datatype: 'FP32', shape: [3, model.embedDim] });
  t.equal(output!.data.length, 3 * model.embedDim, 'flat, row-major');
  const native = await nativeEmbeddings('/embed/text', { texts });
  t.ok(maxDiff(rows(output!.data, model.embedDim), native) < 1e-6, 'equal to /embed/text within 1e-6');

  // Shape [N, 1] with data nested as the shape; no id, no outputs: every output, no id in the answer.
  const nested = await postJson(`${TEXT}/infer`, {
    inputs: [{ name: 'text', shape: [2, 1], datatype: 'BYTES', data: [[texts[0]], [texts[1]]] }],
  });
  const nestedBody = await protocolAnswer<InferBody>(t, nested, 200, 'inference_response');
  t.notOk('id' in nestedBody, 'no id when none was sent');
  t.ok(maxDiff(rows(nestedBody.outputs[0]!.data, model.embedDim), native.slice(0, 2)) < 1e-6, '[N, 1] nested');

  // Binary tensor data: the texts after the JSON, the embeddings after the answer's JSON.
  const binaryInput = binaryBytes(texts);
  const header = {
    inputs: [{ name: 'text', shape: [3], datatype: 'BYTES', parameters: { binary_data_size: binaryInput.length } }],
    outputs: [{ name: 'embedding', parameters: { binary_data: true } }],
  };
  const binary = await fetch(`${url}${TEXT}/infer`, binaryRequest(header, binaryInput));
  t.equal(binary.status, 200);
  t.equal(binary.headers.get('content-type'), 'application/octet-stream');
  const { json, floats } = await readBinaryAnswer(binary);
  t.same(protocolProblems('inference_response', json), [], 'the binary answer JSON is an inference_response');
  t.match(json, {
    outputs: [{ name: 'embedding', datatype: 'FP32', shape: [3, model.embedDim], parameters: { binary_data_size: floats.length * 4 } }],
  });
  t.notOk('data' in ((json as InferBody).outputs[0] ?? {}), 'no JSON data with binary output');
  t.ok(maxDiff(rows(floats, model.embedDim), native) < 1e-6, 'binary in and out: equal to /embed/text');
});

t.test('image inference: base64 in JSON and raw bytes in binary, equal to /embed/image', async (t) => {
  const native = await nativeEmbeddings('/embed/image', { images: [png.toString('base64'), jpeg.toString('base64')] });
  const json = await postJson(`${IMAGE}/infer`, {
    id: 'images-1',
    inputs: [
      {
        name: 'image',
        shape: [2],
        datatype: 'BYTES',
        parameters: { content_type: 'base64' },
        data: [png.toString('base64'), jpeg.toString('base64')],
      },
    ],
  });
  const body = await protocolAnswer<InferBody>(t, json, 200, 'inference_response');
  t.match(body, { model_name: 'unimed-demo-image', id: 'images-1', outputs: [{ shape: [2, model.embedDim] }] });
  t.ok(maxDiff(rows(body.outputs[0]!.data, model.embedDim), native) < 1e-6, 'base64 JSON: equal to /embed/image within 1e-6');

  const raw = binaryBytes([png, jpeg]);
  const header = {
    parameters: { binary_data_output: true },
    inputs: [{ name: 'image', shape: [2, 1], datatype: 'BYTES', parameters: { binary_data_size: raw.length } }],
  };
  const binary = await fetch(`${url}${IMAGE}/infer`, binaryRequest(header, raw));
  t.equal(binary.status, 200);
  const { floats } = await readBinaryAnswer(binary);
  t.ok(maxDiff(rows(floats, model.embedDim), native) < 1e-6, 'raw bytes in binary: equal to /embed/image within 1e-6');

  // JSON answer to a binary request; base64 elements in binary form with content_type base64.
  const b64 = binaryBytes([png.toString('base64')]);
  const mixed = await fetch(
    `${url}${IMAGE}/infer`,
    binaryRequest(
      { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64', binary_data_size: b64.length } }] },
      b64,
    ),
  );
  const mixedBody = await protocolAnswer<InferBody>(t, mixed, 200, 'inference_response');
  t.ok(maxDiff(rows(mixedBody.outputs[0]!.data, model.embedDim), native.slice(0, 1)) < 1e-6, 'base64 in binary, JSON answer');

  // Rendering parameters in the request's parameters are checked as on /embed/image.
  const window = await postJson(`${IMAGE}/infer`, {
    parameters: { window: 'nope' },
    inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [png.toString('base64')] }],
  });
  await protocolError(t, window, 400, /window \(property\) must be one of/);
});

t.test('errors: bad datatype, shape or name get the protocol error with the right status', async (t) => {
  const text = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    postJson(`${TEXT}/infer`, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'], ...input }], ...extra });
  // The specification's own example request, sent as it is: its inputs are not this model's.
  const example = {
    id: '42',
    inputs: [
      { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
      { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
    ],
    outputs: [{ name: 'output0' }],
  };
  await protocolError(
    t,
    await postJson(`${TEXT}/infer`, example),
    400,
    /unknown input "input0": model unimed-demo-text has one input, "text"/,
  );
  await protocolError(t, await text({ datatype: 'FP32', data: [1.5] }), 400, /datatype BYTES, not FP32/);
  await protocolError(t, await text({ datatype: 'STRING' }), 400, /datatype must be equal to one of the allowed values/);
  await protocolError(t, await text({ shape: [3] }), 400, /shape \[3\] holds 3 elements but 1 were sent/);
  await protocolError(t, await text({ shape: [1, 2], data: ['a', 'b'] }), 400, /shape \[N\] or \[N, 1\]/);
  await protocolError(t, await text({ shape: [0], data: [] }), 400, /N at least 1/);
  await protocolError(t, await text({ data: [7] }), 400, /element 0 is not a string/);
  await protocolError(t, await text({ name: 'texts' }), 400, /unknown input "texts"/);
  await protocolError(t, await text({}, { outputs: [{ name: 'logits' }] }), 400, /unknown output "logits"/);
  await protocolError(t, await text({ parameters: { content_type: 'base64' } }), 400, /content_type is "str" or none/);
  await protocolError(t, await text({ data: undefined }), 400, /has no data/);
  await protocolError(t, await postJson(`${TEXT}/infer`, { inputs: [] }), 400, /must NOT have fewer than 1 items/);
  await protocolError(t, await postJson(`${TEXT}/infer`, { input: [] }), 400, /must have required property 'inputs'/);
  // The model is looked up before the body is read.
  await protocolError(t, await postJson('/v2/models/nope-text/infer', { inputs: [] }), 404, /no model "nope-text" here/);
  await protocolError(t, await postJson('/v2/models/unimed-demo/infer', {}), 404, /no model "unimed-demo" here/);

  const image = (input: Record<string, unknown>) =>
    postJson(`${IMAGE}/infer`, { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [png.toString('base64')], ...input }] });
  await protocolError(t, await image({}), 400, /declare it with parameters \{"content_type": "base64"\}/);
  await protocolError(t, await image({ parameters: { content_type: 'base64' }, data: ['not base64!'] }), 400, /not valid base64/);
  await protocolError(t, await image({ parameters: { content_type: 'str' } }), 400, /content_type is "base64" or none/);
  const notAnImage = Buffer.from('not an image at all, only some text bytes '.repeat(4)).toString('base64');
  await protocolError(t, await image({ parameters: { content_type: 'base64' }, data: [notAnImage] }), 422, /not a decodable/);
  await protocolError(
    t,
    await image({ shape: [4], parameters: { content_type: 'base64' }, data: [] }),
    413,
    /4 images sent; MAX_IMAGES_PER_REQUEST allows 3/,
  );
  await protocolError(t, await text({ shape: [5], data: ['a', 'b', 'c', 'd', 'e'] }), 413, /MAX_TEXTS_PER_REQUEST allows 4/);
  await protocolError(t, await text({ data: ['x'.repeat(3000)] }), 413, /MAX_TEXT_BODY_BYTES/);
  // Sent without Content-Length (chunked), the same body is refused once read.
  const chunked = new ReadableStream({
    start(controller) {
      controller.enqueue(
        new TextEncoder().encode(JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'.repeat(3000)] }] })),
      );
      controller.close();
    },
  });
  const streamed = { method: 'POST', headers: { 'content-type': 'application/json' }, body: chunked, duplex: 'half' } as RequestInit;
  await protocolError(t, await fetch(`${url}${TEXT}/infer`, streamed), 413, /MAX_TEXT_BODY_BYTES/);
  await protocolError(
    t,
    await fetch(`${url}${TEXT}/infer`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }),
    415,
    /the body is application\/json, or application\/octet-stream/,
  );
  await protocolError(
    t,
    await fetch(`${url}${TEXT}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [' }),
    400,
    /not valid JSON/,
  );
});

t.test('errors of the binary tensor data extension', async (t) => {
  const texts = binaryBytes(['chest x-ray']);
  const header = (size: number) => ({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: size } }] });
  const infer = (init: RequestInit) => fetch(`${url}${TEXT}/infer`, init);
  await protocolError(t, await infer(binaryRequest(header(texts.length + 4), texts)), 400, /only \d+ bytes of binary data are left/);
  await protocolError(
    t,
    await infer(binaryRequest(header(texts.length), texts, Buffer.from('tail'))),
    400,
    /4 bytes of binary data follow/,
  );
  await protocolError(t, await infer(binaryRequest(header(texts.length - 1), texts.subarray(0, -1))), 400, /longer than the data/);
  await protocolError(t, await infer(binaryRequest(header(2), Buffer.from([1, 0]))), 400, /ends inside an element's 4-byte length/);
  await protocolError(t, await infer(binaryRequest(header(-1))), 400, /binary_data_size must be a non-negative integer/);
  const both = { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'], parameters: { binary_data_size: texts.length } }] };
  await protocolError(t, await infer(binaryRequest(both, texts)), 400, /both data and binary_data_size/);
  const badUtf8 = binaryBytes([Buffer.from([0xff, 0xfe])]);
  await protocolError(t, await infer(binaryRequest(header(badUtf8.length), badUtf8)), 400, /element 0 is not valid UTF-8/);
  const noLength = { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: JSON.stringify(header(0)) };
  await protocolError(t, await infer(noLength), 400, /needs the inference-header-content-length header/);
  const tooLong = binaryRequest(header(texts.length), texts);
  (tooLong.headers as Record<string, string>)['inference-header-content-length'] = '100000';
  await protocolError(t, await infer(tooLong), 400, /must be the length of the JSON/);
  await protocolError(
    t,
    await infer(binaryRequest({ ...header(texts.length), parameters: { binary_data_output: 'yes' } }, texts)),
    400,
    /binary_data_output must be true or false/,
  );
});

t.test('API keys: 401 and 403 in the protocol shape, probes open, a model the key may not use is 404', async (t) => {
  const keys = { demo: 'oip-demo-key-0123456789', other: 'oip-other-key-0123456789', routes: 'oip-routes-key-0123456789' };
  const guarded = await listen(
    testConfig({
      API_KEYS: `demo:${keys.demo} models=unimed-demo, other:${keys.other} models=unimed-other, routes:${keys.routes} routes=v2_models`,
    }),
    registry,
    new Metrics({ defaultMetrics: false }),
  );
  t.teardown(() => guarded.app.close());
  const as = (key: string, init: RequestInit = {}): RequestInit => ({
    ...init,
    headers: { ...(init.headers as object), authorization: `Bearer ${key}` },
  });
  const request = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'text', shape: [1], datatype: 'BYTES', data: ['x'] }] }),
  };

  const anonymous = await fetch(`${guarded.url}${TEXT}/infer`, request);
  t.match(anonymous.headers.get('www-authenticate'), /^Bearer/);
  await protocolError(t, anonymous, 401, /an API key is required/);
  await protocolError(t, await fetch(`${guarded.url}/v2`), 401, /an API key is required/);
  t.same(await protocolAnswer(t, await fetch(`${guarded.url}/v2/health/live`), 200, 'live_server_response'), { live: true }, 'live: open');
  t.same(
    await protocolAnswer(t, await fetch(`${guarded.url}/v2/health/ready`), 200, 'ready_server_response'),
    { ready: true },
    'ready: open',
  );

  await protocolAnswer(t, await fetch(`${guarded.url}${TEXT}/infer`, as(keys.demo, request)), 200, 'inference_response');
  await protocolAnswer(t, await fetch(`${guarded.url}${TEXT}`, as(keys.demo)), 200, 'metadata_model_response');
  // The same model for a key limited to another: as unknown as a model that is not served.
  await protocolError(t, await fetch(`${guarded.url}${TEXT}/infer`, as(keys.other, request)), 404, /no model "unimed-demo-text" here/);
  await protocolError(t, await fetch(`${guarded.url}${TEXT}`, as(keys.other)), 404, /no model "unimed-demo-text" here/);
  await protocolError(t, await fetch(`${guarded.url}${TEXT}/ready`, as(keys.other)), 404, /no model/);
  // routes=: /v2/models/{name} is v2_models; its infer route v2_models_infer is another.
  await protocolAnswer(t, await fetch(`${guarded.url}${IMAGE}`, as(keys.routes)), 200, 'metadata_model_response');
  await protocolError(t, await fetch(`${guarded.url}${IMAGE}/infer`, as(keys.routes, request)), 403, /may not call v2_models_infer/);
});

t.test('while models load: the protocol readiness is 503, liveness 200', async (t) => {
  const starting = await listen(testConfig(), undefined, new Metrics({ defaultMetrics: false }));
  t.teardown(() => starting.app.close());
  await protocolAnswer(t, await fetch(`${starting.url}/v2/health/live`), 200, 'live_server_response');
  await protocolError(t, await fetch(`${starting.url}/v2/health/ready`), 503, /models are still loading/);
  await protocolError(t, await fetch(`${starting.url}${TEXT}/ready`), 503, /models are still loading/);
  await protocolError(t, await fetch(`${starting.url}${TEXT}`), 503, /models are still loading/);
  const infer = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": []}' };
  await protocolError(t, await fetch(`${starting.url}${TEXT}/infer`, infer), 503, /models are still loading/);
});
