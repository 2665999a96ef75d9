// JSON bodies read off the HTTP thread (src/http/readers/json-body.ts, JSON_WORKER_MIN_BYTES): the same requests
// sent to a service that parses every JSON body on a decoder thread and to one that parses none there get the
// same answers, embeddings and refusals alike; the decoders' own count shows where the parsing happened.
// Real servers on 127.0.0.1:0 sharing one demo-model registry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Metrics } from '../../../src/metrics.ts';
import { DEMO, loadRegistry, testConfig } from '../../helpers/common.ts';
import { listen } from '../../helpers/http.ts';

const { registry, metrics, config } = await loadRegistry({ MAX_IMAGES_PER_REQUEST: '4' });
const onThread = await listen(testConfig({ MAX_IMAGES_PER_REQUEST: '4', JSON_WORKER_MIN_BYTES: '1' }), registry, metrics);
const onHttp = await listen(config, registry, new Metrics({ defaultMetrics: false }));
t.teardown(async () => {
  await onThread.app.close();
  await onHttp.app.close();
  await registry.close();
});

const png = readFileSync(join(DEMO, 'golden_resized.png')).toString('base64');
const exact = readFileSync(join(DEMO, 'golden_exact.png')).toString('base64');
// RFC 2045 line breaks (skipped), a data URL, the URL-safe alphabet: each decoded on the thread as on the HTTP thread.
const wrapped = png.replace(/.{76}/g, '$&\r\n');
const dataUrl = `data:image/png;base64,${exact}`;
const urlSafe = png.replaceAll('+', '-').replaceAll('/', '_');

async function both(path: string, body: string | Buffer): Promise<{ status: number; text: string; bytes: Buffer }[]> {
  const answers = [];
  for (const { url } of [onThread, onHttp]) {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const bytes = Buffer.from(await res.arrayBuffer());
    answers.push({ status: res.status, text: bytes.toString('utf8'), bytes });
  }
  return answers;
}

const cases: [string, string, string | Buffer, number][] = [
  ['four images, three encodings', '/embed/image', JSON.stringify({ images: [png, wrapped, dataUrl, urlSafe] }), 200],
  ['/classify with a prompt set', '/classify', JSON.stringify({ image: png, prompt_set: 'modality' }), 200],
  ['/preview', '/preview', JSON.stringify({ image: dataUrl }), 200],
  ['a long string outside the base64 alphabet', '/embed/image', JSON.stringify({ images: [png, `${png.slice(0, 2000)}!${png}`] }), 400],
  ['a truncated image', '/embed/image', JSON.stringify({ images: [png, `${png.slice(0, 4001)}`] }), 400],
  ['a short invalid image beside a decoded one', '/embed/image', JSON.stringify({ images: [png, '@@@'] }), 400],
  ['an empty image (schema)', '/embed/image', JSON.stringify({ images: [png, ''] }), 400],
  ['an unknown property (schema)', '/embed/image', JSON.stringify({ images: [png], colour: 'red' }), 400],
  ['five images (MAX_IMAGES_PER_REQUEST 4)', '/embed/image', JSON.stringify({ images: [png, png, png, png, png] }), 413],
  ['malformed JSON', '/embed/image', `{"images": ["${png}", ]}`, 400],
  ['__proto__ in the body', '/embed/image', `{"images": ["${png}"], "__proto__": {"x": 1}}`, 400],
  ['constructor.prototype in the body', '/classify', `{"image": "${png}", "labels": ["a"], "constructor": {"prototype": {}}}`, 400],
  [
    'not UTF-8',
    '/embed/image',
    Buffer.concat([Buffer.from(`{"images": ["${png}"], "model": "`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
    400,
  ],
  ['texts on /embed/text', '/embed/text', JSON.stringify({ texts: ['a chest x-ray', 'x'.repeat(3000)] }), 200],
  ['a DICOM data URL that is no DICOM', '/embed/image', JSON.stringify({ images: [`data:application/dicom;base64,${png}`] }), 422],
];

for (const [what, path, body, status] of cases) {
  t.test(`${what}: the same answer whichever thread parsed the body`, async (t) => {
    const before = onThread.app.pixelDecoder.jsonBodies;
    const [thread, http] = await both(path, body);
    t.equal(thread!.status, status, `${what}: ${status}`);
    t.equal(thread!.status, http!.status, 'same status');
    // JSON answers (embeddings, preprocessing, error code, message, field) byte for byte; /preview's PNG too.
    t.ok(thread!.bytes.equals(http!.bytes), `same body (${thread!.text.slice(0, 120)})`);
    t.equal(onThread.app.pixelDecoder.jsonBodies, before + 1, 'parsed on a decoder thread');
    t.equal(onHttp.app.pixelDecoder.jsonBodies, 0, 'below JSON_WORKER_MIN_BYTES: parsed on the HTTP thread');
  });
}

t.test('a marker string sent by a client is only an invalid image', async (t) => {
  const [thread, http] = await both('/embed/image', JSON.stringify({ images: ['\u0000decoded-image:0'] }));
  t.equal(thread!.status, 400);
  t.same(JSON.parse(thread!.text), JSON.parse(http!.text));
});
