// error.field: a refused request names the input at fault (openapi.yaml, schema Error), whichever form the input
// came in (JSON property, form field, query parameter, the image itself), and an error about the request as a
// whole names none. Real server on 127.0.0.1:0 with the demo model; the DICOM case crosses the decoder threads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ct, ctValues, COLUMNS, ROWS } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';
import { DEMO, loadRegistry } from '../helpers/common.ts';
import { listen } from '../helpers/http.ts';
import type { ErrorBody } from '../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry({ MAX_TEXTS_PER_REQUEST: '2', MAX_PROMPTS_PER_CLASSIFY: '4' });
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const b64 = png.toString('base64');
const notAnImage = Buffer.from('plain text, not an image '.repeat(8));
const gif = Buffer.from(
  'GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;',
  'latin1',
);
const frames = 3;
const ctMulti = imageDicom({
  ...ct(
    [],
    Int16Array.from({ length: frames * ROWS * COLUMNS }, (_, i) => ctValues(Math.floor(i / (ROWS * COLUMNS)))[i % (ROWS * COLUMNS)]!),
  ),
  frames,
});

const json = (body: unknown): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const raw = (type: string, bytes: Buffer): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': type },
  body: new Uint8Array(bytes),
});
function form(fields: [string, string | Buffer][]): RequestInit {
  const data = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === 'string') data.append(name, value);
    else data.append(name, new Blob([new Uint8Array(value)]), 'upload.bin');
  }
  return { method: 'POST', body: data };
}

/** Calls the service and expects a refusal with `status`, `code` and `field` (undefined: no field at all). */
async function refused(t: Test, path: string, init: RequestInit, status: number, code: string, field: string | undefined): Promise<void> {
  const res = await fetch(url + path, init);
  const body = (await res.json()) as ErrorBody & { error: { field?: string } };
  const what = `${init.method ?? 'GET'} ${path} (${body.error.message})`;
  t.equal(res.status, status, `${what}: ${status}`);
  t.equal(body.error.code, code, `${what}: code ${code}`);
  if (field === undefined) t.notOk('field' in body.error, `${what}: no field`);
  else t.equal(body.error.field, field, `${what}: field ${field}`);
}

t.test('classify: labels, templates, prompt_set, schema errors', async (t) => {
  await refused(t, '/classify', json({ image: b64, labels: ['a', 'b'], templates: ['no placeholder'] }), 400, 'bad_request', 'templates');
  await refused(t, '/classify', json({ image: b64, labels: ['a', 'a'] }), 400, 'bad_request', 'labels');
  await refused(t, '/classify', json({ image: b64 }), 400, 'bad_request', 'labels');
  await refused(t, '/classify', json({ image: b64, labels: ['a', 'b'], prompt_set: 'modality' }), 400, 'bad_request', 'prompt_set');
  await refused(t, '/classify', json({ image: b64, prompt_set: 'modality', templates: ['a {}'] }), 400, 'bad_request', 'templates');
  await refused(t, '/classify', json({ image: b64, prompt_set: 'nope' }), 404, 'prompt_set_not_found', 'prompt_set');
  await refused(
    t,
    '/classify',
    json({ image: b64, labels: ['a', 'b', 'c'], templates: ['{}', 'a {}'] }),
    413,
    'too_many_prompts',
    'labels',
  );
  // Fastify's own validation of a JSON body: the property at fault, missing or not allowed.
  await refused(t, '/classify', json({ image: b64, labels: ['a', 'b'], top_k: 0 }), 400, 'bad_request', 'top_k');
  await refused(t, '/classify', json({ image: b64, labels: ['a', 'b'], colour: 'red' }), 400, 'bad_request', 'colour');
  await refused(t, '/classify', json({ labels: ['a', 'b'] }), 400, 'bad_request', 'image');
  await refused(t, '/classify', json({ image: 'not base64!', labels: ['a', 'b'] }), 400, 'bad_request', 'image');
});

t.test('multipart: rendering fields, unknown and repeated fields, the schema', async (t) => {
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['window', 'bogus'],
    ]),
    400,
    'bad_request',
    'window',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['window_center', '40'],
    ]),
    400,
    'bad_request',
    'window_width',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['window_center', '40'],
      ['window_width', '0'],
    ]),
    400,
    'bad_request',
    'window_width',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['colour', 'red'],
    ]),
    400,
    'bad_request',
    'colour',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['top_k', '1'],
      ['top_k', '2'],
    ]),
    400,
    'bad_request',
    'top_k',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', png],
      ['labels', 'a'],
      ['labels', 'b'],
      ['top_k', 'many'],
    ]),
    400,
    'bad_request',
    'top_k',
  );
  await refused(
    t,
    '/classify',
    form([
      ['labels', 'a'],
      ['labels', 'b'],
    ]),
    400,
    'bad_request',
    'image',
  );
  await refused(
    t,
    '/classify',
    form([
      ['image', notAnImage],
      ['labels', 'a'],
      ['labels', 'b'],
    ]),
    422,
    'undecodable',
    'image',
  );
});

t.test('images: the image itself, frames of a multi-frame DICOM object (decoded on another thread), query parameters', async (t) => {
  await refused(t, '/preview', raw('image/png', notAnImage), 422, 'undecodable', 'image');
  // A GIF's bytes sent as PNG: the image's format is refused (a body typed image/gif is refused as a whole, below).
  await refused(t, '/preview', raw('image/png', gif), 415, 'unsupported_media_type', 'image');
  await refused(t, '/preview', raw('application/dicom', ctMulti), 400, 'bad_request', 'frame');
  await refused(t, '/preview?frame=7', raw('application/dicom', ctMulti), 400, 'bad_request', 'frame');
  await refused(t, '/preview?frame=-1', raw('application/dicom', ctMulti), 400, 'bad_request', 'frame');
  await refused(t, '/embed/image?model=nope', raw('image/png', png), 404, 'model_not_found', 'model');
  await refused(t, '/embed/image', json({ images: [b64, 'not base64!'] }), 400, 'bad_request', 'images');
  await refused(
    t,
    '/embed/image',
    json({ images: [b64], window: 'ct-lung', window_center: 40, window_width: 400 }),
    400,
    'bad_request',
    'window',
  );
  await refused(t, '/embed/image?frame=1', json({ images: [b64] }), 400, 'bad_request', 'frame');
});

t.test('an error given its image or slice position (image 1: ..., slice 0: ...) keeps its field', async (t) => {
  const single = imageDicom(ct());
  for (const [path, position] of [
    ['/embed/image', /^image 1: /],
    ['/embed/series', /^slice \d: /],
  ] as const) {
    const res = await fetch(
      url + path,
      form([
        ['image', single],
        ['image', ctMulti],
      ]),
    );
    const body = (await res.json()) as ErrorBody & { error: { field?: string } };
    t.equal(res.status, 400, `${path}: ${body.error.message}`);
    t.match(body.error, { code: 'bad_request', field: 'frame', message: position }, path);
  }
});

t.test('texts and models', async (t) => {
  await refused(t, '/embed/text', json({ texts: ['a', 'b', 'c'] }), 413, 'too_many_texts', 'texts');
  await refused(t, '/embed/text', json({ texts: ['x'], model: 'nope' }), 404, 'model_not_found', 'model');
  await refused(t, '/embed/text', json({ texts: 'x' }), 400, 'bad_request', 'texts');
  await refused(t, '/prompt-sets?model=nope', {}, 404, 'model_not_found', 'model');
});

t.test('an error about the request as a whole names no field', async (t) => {
  await refused(
    t,
    '/embed/text',
    { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' },
    415,
    'unsupported_media_type',
    undefined,
  );
  await refused(t, '/preview', raw('image/gif', gif), 415, 'unsupported_media_type', undefined);
  await refused(
    t,
    '/embed/text',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"texts": [' },
    400,
    'bad_request',
    undefined,
  );
  await refused(t, '/nowhere', {}, 404, 'route_not_found', undefined);
});
