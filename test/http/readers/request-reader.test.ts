// One request reader (src/http/readers/request-reader.ts): the same input gets the same error on every image and series
// route, whichever form it came in, and the reader is strict where README says so (UTF-8 JSON, base64 with only
// RFC 2045 line breaks and spaces). Real server on 127.0.0.1:0 with the demo model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { DEMO, loadRegistry } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry({ MAX_CHARS_PER_TEXT: '20', MAX_IMAGES_PER_REQUEST: '16' });
const { app, url } = await listen(config, registry, metrics);
t.teardown(async () => {
  await app.close();
  await registry.close();
});

const png = readFileSync(join(DEMO, 'golden_resized.png'));
const longLabel = 'a label longer than twenty characters';

interface Refusal {
  status: number;
  code: string;
  message: string;
  field: string | undefined;
}

async function call(path: string, init: RequestInit): Promise<Refusal & { ok: boolean }> {
  const res = await fetch(url + path, { method: 'POST', ...init });
  if (res.ok) return { ok: true, status: res.status, code: '', message: '', field: undefined };
  const { error } = (await res.json()) as { error: { code: string; message: string; field?: string } };
  return { ok: false, status: res.status, code: error.code, message: error.message, field: error.field };
}

const json = (body: unknown): RequestInit => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
function form(fields: [string, string | Buffer][]): RequestInit {
  const data = new FormData();
  for (const [name, value] of fields) {
    if (typeof value === 'string') data.append(name, value);
    else data.append(name, new Blob([new Uint8Array(value)], { type: 'image/png' }), 'upload.png');
  }
  return { body: data };
}
/** A multipart/related body of DICOM parts (their content is never decoded in these tests). */
function related(parts: number): RequestInit {
  const boundary = 'reader-test-boundary';
  const chunks = Array.from({ length: parts }, (_, i) => `--${boundary}\r\nContent-Type: application/dicom\r\n\r\nnot decoded ${i}\r\n`);
  return {
    headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` },
    body: `${chunks.join('')}--${boundary}--\r\n`,
  };
}

function expectRefusal(t: Test, got: Refusal, status: number, code: string, field: string | undefined, what: string): void {
  t.equal(got.status, status, `${what}: ${status} (${got.message})`);
  t.equal(got.code, code, `${what}: ${code}`);
  t.equal(got.field, field, `${what}: field ${String(field)}`);
}

t.test('an over-long label gets 413 text_too_long with one message on /classify and /classify/series, JSON or multipart', async (t) => {
  const classifyForm = await call(
    '/classify',
    form([
      ['image', png],
      ['labels', 'short'],
      ['labels', longLabel],
    ]),
  );
  const seriesForm = await call(
    '/classify/series',
    form([
      ['labels', 'short'],
      ['labels', longLabel],
    ]),
  );
  const classifyJson = await call('/classify', json({ image: png.toString('base64'), labels: ['short', longLabel] }));
  for (const [what, got] of Object.entries({ classifyForm, seriesForm, classifyJson }))
    expectRefusal(t, got, 413, 'text_too_long', 'labels', what);
  t.equal(seriesForm.message, classifyForm.message, 'the same words for the same form field');
  t.match(seriesForm.message, /^form\/labels\/1 .*MAX_CHARS_PER_TEXT/);
});

t.test('a query parameter named __proto__ is a query parameter like any other', async (t) => {
  const once = await call('/classify/series?__proto__=x&labels=a&labels=b', related(1));
  expectRefusal(t, once, 400, 'bad_request', '__proto__', 'given once, with a multipart/related body');
  t.equal(once.message, 'querystring must NOT have additional properties');
  const twice = await call('/classify/series?__proto__=x&__proto__=y&labels=a&labels=b', related(1));
  expectRefusal(t, twice, 400, 'bad_request', '__proto__', 'given twice, with a multipart/related body');
  t.equal(twice.message, 'query parameter "__proto__" was given 2 times');
  const series = { source: 'nowhere', study: '1.2.3', series: '1.2.3.4' };
  const withJson = await call('/classify/series?__proto__=x&__proto__=y', json({ dicomweb: series, labels: ['a', 'b'] }));
  expectRefusal(t, withJson, 400, 'bad_request', '__proto__', 'with a JSON body');
  t.match(withJson.message, /send __proto__ in the body/);
});

t.test('a JSON body that is not valid UTF-8 is a 400', async (t) => {
  const body = Buffer.concat([Buffer.from('{"texts": ["caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}')]);
  const got = await call('/embed/text', { headers: { 'content-type': 'application/json' }, body: new Uint8Array(body) });
  expectRefusal(t, got, 400, 'bad_request', undefined, 'invalid UTF-8');
  t.match(got.message, /UTF-8/);
  const valid = await call('/embed/text', json({ texts: ['café'] }));
  t.ok(valid.ok, 'valid UTF-8 with the same characters is served');
});

t.test('base64: the line breaks and spaces of RFC 2045 encoders are accepted, any other non-base64 character is a 400', async (t) => {
  const b64 = png.toString('base64');
  const wrapped = (sep: string): string => b64.match(/.{1,76}/g)!.join(sep);
  const accepted: [string, string][] = [
    ['wrapped at 76 with LF', wrapped('\n')],
    ['wrapped at 76 with CRLF', wrapped('\r\n')],
    ['with spaces', wrapped(' ')],
  ];
  for (const [what, text] of accepted) {
    const got = await call('/embed/image', json({ images: [text] }));
    t.ok(got.ok, `${what}: served (${got.message})`);
  }
  const refused: [string, string][] = [
    ['a tab', wrapped('\t')],
    ['a form feed', wrapped('\f')],
    ['a no-break space', wrapped('\u00a0')],
    ['a star', `${b64.slice(0, 8)}*${b64.slice(8)}`],
  ];
  for (const [what, text] of refused) {
    const got = await call('/embed/image', json({ images: [text] }));
    expectRefusal(t, got, 400, 'bad_request', 'images', what);
    t.match(got.message, /not valid base64/, what);
  }
});

const reference = { source: 'nowhere', study: '1.2.3', series: '1.2.3.4', instance: '1.2.3.4.5' };

t.test('two images on a one-image route: one 413 naming field image and the route limit, in every form', async (t) => {
  const cases: [string, string, RequestInit][] = [
    [
      '/classify',
      'two file parts',
      form([
        ['image', png],
        ['image', png],
        ['labels', 'a'],
        ['labels', 'b'],
      ]),
    ],
    [
      '/classify',
      'a file part and a dicomweb field',
      form([
        ['image', png],
        ['dicomweb', JSON.stringify(reference)],
        ['labels', 'a'],
        ['labels', 'b'],
      ]),
    ],
    [
      '/preview',
      'two file parts',
      form([
        ['image', png],
        ['image', png],
      ]),
    ],
    ['/preview', 'a multipart/related body of two instances', related(2)],
  ];
  for (const [path, what, init] of cases) {
    const got = await call(path, init);
    expectRefusal(t, got, 413, 'too_many_images', 'image', `${path}, ${what}`);
    t.match(got.message, `${path} takes one image`, `${path}, ${what}: the real limit`);
    t.notMatch(got.message, /MAX_IMAGES_PER_REQUEST/, `${path}, ${what}: not the limit of another route`);
  }
  const many = await call('/embed/image', form(Array.from({ length: 17 }, (): [string, Buffer] => ['image', png])));
  expectRefusal(t, many, 413, 'too_many_images', 'image', '/embed/image, 17 file parts');
  t.match(many.message, 'MAX_IMAGES_PER_REQUEST allows 16');
});

t.test('a DICOMweb source that is not configured names the field that referred to it', async (t) => {
  const image = await call('/classify', json({ image: { dicomweb: reference }, labels: ['a', 'b'] }));
  expectRefusal(t, image, 400, 'bad_request', 'image', 'a JSON image reference');
  const field = await call('/preview', form([['dicomweb', JSON.stringify(reference)]]));
  expectRefusal(t, field, 400, 'bad_request', 'dicomweb', 'a dicomweb form field');
  const series = await call('/embed/series', json({ dicomweb: { source: 'nowhere', study: '1.2.3', series: '1.2.3.4' } }));
  expectRefusal(t, series, 400, 'bad_request', 'dicomweb', 'a series reference');
  for (const got of [image, field, series]) t.match(got.message, /not a configured DICOMweb source/);
});

t.test('messages never echo control characters or lone surrogates', async (t) => {
  const unprintable = /[\p{Cc}\p{Cs}]/u;
  const twice = await call('/classify', json({ image: png.toString('base64'), labels: ['x\u0007\ud800', 'x\u0007\ud800'] }));
  expectRefusal(t, twice, 400, 'bad_request', 'labels', 'a label given twice');
  t.notOk(unprintable.test(twice.message), 'no control character or lone surrogate in the message');
  t.match(twice.message, 'x\\u0007\\ud800', 'they are written as escapes');
  const set = await call('/classify', json({ image: png.toString('base64'), prompt_set: 'nope\u001b[31m\udfff' }));
  expectRefusal(t, set, 404, 'prompt_set_not_found', 'prompt_set', 'an unknown prompt set');
  t.notOk(unprintable.test(set.message), 'no control character or lone surrogate in the message');
  const field = await call(
    '/preview',
    form([
      ['image', png],
      ['bad\u0001name', 'x'],
    ]),
  );
  t.equal(field.status, 400);
  t.notOk(unprintable.test(field.message + (field.field ?? '')), 'an unknown form field is named without its control character');
});
