// DICOM and wide PNG/TIFF through the HTTP API: real server on 127.0.0.1:0, the demo model, fixtures built here
// (tests' own DICOM writer, dcmtk for the bare data set). Windows are checked in the response records and in the
// pixels of /preview, against the decoding module's render resized by sharp directly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { parse } from 'yaml';
import { buildApp, createLogger } from '../../src/app.ts';
import type { ImagePreprocessing } from '../../src/api-types.ts';
import { PixelDecoder } from '../../src/inputs/decoder/pixel-decoder.ts';
import { WINDOW_PRESETS } from '../../src/inputs/dicom/index.ts';
import type { RenderOptions } from '../../src/inputs/dicom/index.ts';
import { normalizeToChw, transformGeometry } from '../../src/inputs/transform.ts';
import { Metrics } from '../../src/metrics.ts';
import { ct, ctValues, COLUMNS, lutItem, mono12, ROWS } from '../fixtures/dicom/images.ts';
import { Workdir } from '../fixtures/dicom/tools.ts';
import { encapsulated, EXPLICIT_LE, imageDicom, imageElements, part10, PATIENT_ID, PATIENT_NAME } from '../fixtures/dicom/writer.ts';
import type { Element } from '../fixtures/dicom/writer.ts';
import type { ClassifyBody, EmbedBody, ErrorBody } from '../helpers/http.ts';
import { capturedLogger } from '../helpers/common.ts';
import { cosine, loadRegistry, ROOT, testConfig } from '../helpers/http.ts';

// --- one app for the file, its logs captured ------------------------------------------------------------------
const { logger, lines: logLines } = capturedLogger('debug');
const config = testConfig({ MAX_IMAGE_PIXELS: '1000000', MAX_IMAGES_PER_REQUEST: '4', DECODER_THREADS: '2' });
const metrics = new Metrics({ defaultMetrics: false });
const registry = await loadRegistry(config, metrics);
const app = await buildApp({ config, metrics, registry, logger });
const url = await app.listen({ host: '127.0.0.1', port: 0 });
const work = new Workdir();
// A decoder of the test's own for the expected renders, apart from the app's.
const decoder = new PixelDecoder({ threads: 1, taskTimeoutMs: 30_000, maxQueue: 64, logger: createLogger('silent') });
await decoder.start();
t.teardown(async () => {
  await decoder.close();
  await app.close();
  await registry.close();
  work.remove();
});

const model = registry.get();
const S = model.imageSpec.size;
const LIMITS = { imagePixels: 1_000_000 };

/** Everything the service answered, for the privacy check at the end. */
const answered: string[] = [];
async function call(path: string, init: RequestInit): Promise<{ res: Response; bytes: Buffer }> {
  const res = await fetch(url + path, { method: 'POST', ...init });
  const bytes = Buffer.from(await res.arrayBuffer());
  answered.push(JSON.stringify([...res.headers.entries()]), bytes.toString('latin1'));
  return { res, bytes };
}
const raw = (path: string, body: Uint8Array, type = 'application/dicom', query = '') =>
  call(path + query, { headers: { 'content-type': type }, body: new Uint8Array(body) });
const postJson = (path: string, body: unknown, query = '') =>
  call(path + query, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
function form(entries: [string, string | Buffer, string?][]): FormData {
  const f = new FormData();
  for (const [name, value, type] of entries) {
    if (typeof value === 'string') f.append(name, value);
    else f.append(name, new Blob([new Uint8Array(value)], { type: type ?? 'application/octet-stream' }), `${name}.dcm`);
  }
  return f;
}
const multipart = (path: string, entries: [string, string | Buffer, string?][], query = '') => call(path + query, { body: form(entries) });
const parsed = <T>(bytes: Buffer): T => JSON.parse(bytes.toString('utf8')) as T;

function ok(t: Test, r: { res: Response; bytes: Buffer }, what: string): void {
  t.equal(r.res.status, 200, `${what}: 200 (${r.res.status === 200 ? '' : r.bytes.toString('utf8').slice(0, 300)})`);
}
async function refused(
  t: Test,
  r: Promise<{ res: Response; bytes: Buffer }>,
  status: number,
  message: RegExp,
  code?: string,
): Promise<void> {
  const { res, bytes } = await r;
  const body = parsed<ErrorBody>(bytes);
  t.equal(res.status, status, `status ${status}: ${body.error?.message}`);
  t.match(body.error?.message, message);
  if (code !== undefined) t.equal(body.error?.code, code);
}

// --- fixtures ---------------------------------------------------------------------------------------------------
const ctAuto = imageDicom(ct());
const ctFileWindow = imageDicom(
  ct([
    [0x00281050, 'DS', '300'],
    [0x00281051, 'DS', '1200'],
  ]),
);
const ctVoiLut = imageDicom(mono12([[0x00283010, 'SQ', [lutItem(4096, 0, (i) => Math.round(65535 * Math.sqrt(i / 4095)), 'sqrt')]]]));
const frames = 3;
const multiValues = Int16Array.from(
  { length: frames * ROWS * COLUMNS },
  (_, i) => ctValues(Math.floor(i / (ROWS * COLUMNS)))[i % (ROWS * COLUMNS)]!,
);
const ctMulti = imageDicom({ ...ct([], multiValues), frames });

/** The module's render, resized and cropped by sharp directly (not through the service's transform code). */
async function expectedView(bytes: Buffer, options: RenderOptions): Promise<Buffer> {
  const image = await decoder.renderDicom(bytes, options, LIMITS);
  const g = transformGeometry(image.width, image.height, S);
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (g.resize !== null) {
    // Resize to a buffer first: one sharp pipeline would fold the crop into the resize.
    const resized = await pipeline
      .resize(g.resize.width, g.resize.height, { kernel: 'cubic', fit: 'fill', fastShrinkOnLoad: false })
      .raw()
      .toBuffer();
    pipeline = sharp(resized, { raw: { width: g.resize.width, height: g.resize.height, channels: 3 } });
  }
  return pipeline.extract({ left: g.crop.left, top: g.crop.top, width: S, height: S }).raw().toBuffer();
}

/** Decodes a /preview answer: its pixels and the record from the header. */
async function preview(r: {
  res: Response;
  bytes: Buffer;
}): Promise<{ pixels: Buffer; record: ImagePreprocessing; width: number; height: number }> {
  const { data, info } = await sharp(r.bytes).raw().toBuffer({ resolveWithObject: true });
  const header = r.res.headers.get('x-preprocessing');
  return { pixels: data, record: JSON.parse(header ?? 'null') as ImagePreprocessing, width: info.width, height: info.height };
}

function maxDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Grey level of the centre pixel of a preview (the fixture's hot spot: stored 2000, 976 HU). */
const centre = (pixels: Buffer) => pixels[3 * ((S / 2) * S + S / 2)]!;

// --- tests ------------------------------------------------------------------------------------------------------

t.test('openapi.yaml documents /preview and the presets the decoder knows', (t) => {
  const doc = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as {
    paths: Record<string, unknown>;
    components: { schemas: Record<string, { enum?: string[] }> };
  };
  t.ok(doc.paths['/preview'], '/preview documented');
  t.ok(app.hasRoute({ url: '/preview', method: 'POST' }), '/preview served');
  t.same(doc.components.schemas.WindowPreset!.enum, Object.keys(WINDOW_PRESETS));
  t.same(WINDOW_PRESETS, {
    'ct-soft-tissue': { width: 400, center: 40 },
    'ct-lung': { width: 1500, center: -600 },
    'ct-bone': { width: 2500, center: 480 },
    'ct-brain': { width: 80, center: 40 },
    'ct-liver': { width: 150, center: 90 },
  });
  t.end();
});

t.test('/embed/image: raw, multipart and JSON DICOM give the embedding of the rendered image', async (t) => {
  const viaRaw = await raw('/embed/image', ctAuto);
  ok(t, viaRaw, 'raw');
  const body = parsed<EmbedBody>(viaRaw.bytes);
  const record = body.preprocessing[0]!;
  t.same(record.source, { format: 'dicom', width: COLUMNS, height: ROWS, channels: 1, bit_depth: 12, has_alpha: false, pages: 1 });
  t.same(record.dicom, {
    modality: 'CT',
    transfer_syntax_uid: EXPLICIT_LE,
    photometric_interpretation: 'MONOCHROME2',
    frame: 0,
    frames: 1,
    bits_stored: 12,
    inverted: false,
  });
  t.match(record.window, { source: 'auto', function: 'LINEAR_EXACT' });
  t.same(record.transform, transformGeometry(COLUMNS, ROWS, S));

  // The same tensor built by hand from the module's render: the service adds nothing and skips nothing.
  const view = await expectedView(ctAuto, {});
  const [direct] = await model.embedImages([normalizeToChw(view, S, model.imageSpec)]);
  t.ok(cosine(body.embeddings[0]!, direct!) > 0.999999, 'embedding of the module render + the model transform');

  // The declared type is not needed when the preamble is there (a multipart part typed octet-stream).
  const viaForm = await multipart('/embed/image', [
    ['image', ctAuto],
    ['image', ctFileWindow, 'application/dicom'],
  ]);
  ok(t, viaForm, 'multipart');
  const formBody = parsed<EmbedBody>(viaForm.bytes);
  t.equal(formBody.embeddings.length, 2);
  t.ok(cosine(formBody.embeddings[0]!, body.embeddings[0]!) > 0.999999, 'multipart == raw');
  t.equal(formBody.preprocessing[1]!.window?.source, 'file');

  const viaJson = await postJson('/embed/image', {
    images: [ctAuto.toString('base64'), `data:application/dicom;base64,${ctAuto.toString('base64')}`],
  });
  ok(t, viaJson, 'JSON');
  const jsonBody = parsed<EmbedBody>(viaJson.bytes);
  t.ok(cosine(jsonBody.embeddings[0]!, body.embeddings[0]!) > 0.999999, 'JSON == raw');
  t.ok(cosine(jsonBody.embeddings[1]!, body.embeddings[0]!) > 0.999999, 'data: URL == raw');
});

t.test('a bare data set (no preamble) is read when declared application/dicom', async (t) => {
  const bare = work.read(work.convert('dcmconv', ['+ti', '-F'], work.write('ct.dcm', ctAuto)));
  t.not(bare.toString('latin1', 128, 132), 'DICM', 'no preamble');
  const viaRaw = await raw('/embed/image', bare);
  ok(t, viaRaw, 'raw application/dicom');
  const record = parsed<EmbedBody>(viaRaw.bytes).preprocessing[0]!;
  t.equal(record.dicom?.transfer_syntax_uid, '1.2.840.10008.1.2', 'implicit VR little endian');
  const fromForm = await multipart('/preview', [['image', bare, 'application/dicom']]);
  ok(t, fromForm, 'multipart part typed application/dicom');
  const fromDataUrl = await postJson('/preview', { image: `data:application/dicom;base64,${bare.toString('base64')}` });
  ok(t, fromDataUrl, 'data:application/dicom URL');
  t.same((await preview(fromForm)).pixels, (await preview(fromDataUrl)).pixels);
  // Undeclared, the bytes are not recognisable as anything.
  await refused(t, raw('/embed/image', bare, 'image/png'), 422, /not a decodable/, 'undecodable');
});

t.test('/preview: the window from the request, a preset, the file, a VOI LUT and auto, in record and pixels', async (t) => {
  const cases: {
    what: string;
    bytes: Buffer;
    query: string;
    options: RenderOptions;
    source: string;
    window?: { center: number; width: number };
    preset?: string;
  }[] = [
    {
      what: 'request',
      bytes: ctFileWindow,
      query: '?window_center=100&window_width=700',
      options: { windowCenter: 100, windowWidth: 700 },
      source: 'request',
      window: { center: 100, width: 700 },
    },
    {
      what: 'preset',
      bytes: ctFileWindow,
      query: '?window=ct-lung',
      options: { window: 'ct-lung' },
      source: 'request',
      window: { center: -600, width: 1500 },
      preset: 'ct-lung',
    },
    { what: 'file', bytes: ctFileWindow, query: '', options: {}, source: 'file', window: { center: 300, width: 1200 } },
    { what: 'VOI LUT', bytes: ctVoiLut, query: '', options: {}, source: 'voi_lut' },
    { what: 'auto', bytes: ctAuto, query: '', options: {}, source: 'auto' },
  ];
  const seen: Buffer[] = [];
  for (const c of cases) {
    const r = await raw('/preview', c.bytes, 'application/dicom', c.query);
    ok(t, r, c.what);
    t.equal(r.res.headers.get('content-type'), 'image/png');
    t.equal(r.res.headers.get('x-model-sha256'), model.sha256);
    const { pixels, record, width, height } = await preview(r);
    t.same([width, height], [S, S], `${c.what}: S x S`);
    t.equal(record.window?.source, c.source, `${c.what}: window source`);
    if (c.window !== undefined) t.match(record.window, c.window, `${c.what}: window values`);
    if (c.preset !== undefined) t.equal(record.window?.preset, c.preset);
    t.equal(record.dicom?.frame, 0);
    const expected = await expectedView(c.bytes, c.options);
    t.equal(maxDiff(pixels, expected), 0, `${c.what}: pixels are the module render, resized and cropped`);
    seen.push(pixels);
  }
  t.not(maxDiff(seen[0]!, seen[1]!), 0, 'request window and preset differ');
  t.not(maxDiff(seen[1]!, seen[2]!), 0, 'preset and file window differ');

  // Known grey levels at the 976 HU hot spot, from the LINEAR formula (PS3.3 C.11.2.1.2.1).
  const level = async (query: string) => centre((await preview(await raw('/preview', ctAuto, 'application/dicom', query))).pixels);
  t.equal(await level('?window=ct-soft-tissue'), 255, 'soft tissue: 976 HU is white');
  t.ok(Math.abs((await level('?window=ct-bone')) - Math.round(255 * ((976 - 479.5) / 2499 + 0.5))) <= 1, 'bone window: 976 HU is ~178');

  // A preset and its explicit numbers render the same image.
  const presetPixels = (await preview(await raw('/preview', ctAuto, 'application/dicom', '?window=ct-lung'))).pixels;
  const explicitPixels = (await preview(await raw('/preview', ctAuto, 'application/dicom', '?window_center=-600&window_width=1500')))
    .pixels;
  t.same(presetPixels, explicitPixels, 'ct-lung == 1500/-600');
});

t.test('/preview and /classify take multipart fields and JSON properties', async (t) => {
  const fromForm = await multipart('/preview', [
    ['image', ctAuto],
    ['window', 'ct-bone'],
  ]);
  ok(t, fromForm, 'preview multipart');
  const fromJson = await postJson('/preview', { image: ctAuto.toString('base64'), window: 'ct-bone' });
  ok(t, fromJson, 'preview JSON');
  const a = await preview(fromForm);
  const b = await preview(fromJson);
  t.same(a.pixels, b.pixels, 'multipart == JSON');
  t.equal(maxDiff(a.pixels, await expectedView(ctAuto, { window: 'ct-bone' })), 0);
  t.match(a.record.window, { source: 'request', preset: 'ct-bone', center: 480, width: 2500 });

  const labels = ['a CT scan', 'a chest x-ray', 'a fundus photograph'];
  const classifyForm = await multipart('/classify', [
    ['image', ctAuto],
    ['window_center', '40'],
    ['window_width', '400'],
    ...labels.map((l): [string, string] => ['labels', l]),
  ]);
  ok(t, classifyForm, 'classify multipart');
  const formBody = parsed<ClassifyBody>(classifyForm.bytes);
  t.equal(formBody.predictions.length, 3);
  t.match(formBody.preprocessing.window, { source: 'request', center: 40, width: 400 });
  t.equal(formBody.preprocessing.dicom?.modality, 'CT');
  const classifyJson = await postJson('/classify', { image: ctAuto.toString('base64'), labels, window: 'ct-soft-tissue' });
  ok(t, classifyJson, 'classify JSON');
  const jsonBody = parsed<ClassifyBody>(classifyJson.bytes);
  t.same(
    jsonBody.predictions.map((p) => p.label),
    formBody.predictions.map((p) => p.label),
    'the preset and its numbers classify alike',
  );
  t.ok(Math.abs(jsonBody.predictions[0]!.probability - formBody.predictions[0]!.probability) < 1e-6);
  // The window changes what the model sees, so it changes the embedding.
  const soft = parsed<EmbedBody>((await raw('/embed/image', ctAuto, 'application/dicom', '?window=ct-soft-tissue')).bytes).embeddings[0]!;
  const lung = parsed<EmbedBody>((await raw('/embed/image', ctAuto, 'application/dicom', '?window=ct-lung')).bytes).embeddings[0]!;
  t.ok(cosine(soft, lung) < 0.9999, `different windows, different embeddings (cosine ${cosine(soft, lung).toFixed(5)})`);
});

t.test('multi-frame: frame is required, chosen, and checked', async (t) => {
  await refused(t, raw('/embed/image', ctMulti), 400, /3 frames: choose one with the frame parameter/, 'bad_request');
  await refused(t, postJson('/classify', { image: ctMulti.toString('base64'), labels: ['a', 'b'] }), 400, /frame parameter/);
  await refused(t, raw('/preview', ctMulti, 'application/dicom', '?frame=3'), 400, /frame 3 is out of range.*3 frame/);
  const second = await raw('/preview', ctMulti, 'application/dicom', '?frame=1&window=ct-bone');
  ok(t, second, 'frame 1');
  const { pixels, record } = await preview(second);
  t.same(record.dicom, {
    modality: 'CT',
    transfer_syntax_uid: EXPLICIT_LE,
    photometric_interpretation: 'MONOCHROME2',
    frame: 1,
    frames: 3,
    bits_stored: 12,
    inverted: false,
  });
  t.equal(record.source.pages, 3);
  t.equal(maxDiff(pixels, await expectedView(ctMulti, { frame: 1, window: 'ct-bone' })), 0, 'frame 1 rendered');
  const first = (await preview(await raw('/preview', ctMulti, 'application/dicom', '?frame=0&window=ct-bone'))).pixels;
  t.not(maxDiff(first, pixels), 0, 'frames differ');
  const viaForm = await multipart('/embed/image', [
    ['image', ctMulti],
    ['frame', '2'],
  ]);
  ok(t, viaForm, 'frame as a form field');
  t.equal(parsed<EmbedBody>(viaForm.bytes).preprocessing[0]!.dicom?.frame, 2);
  const viaJson = await postJson('/embed/image', { images: [ctMulti.toString('base64')], frame: 2 });
  ok(t, viaJson, 'frame as a JSON property');
  t.ok(cosine(parsed<EmbedBody>(viaJson.bytes).embeddings[0]!, parsed<EmbedBody>(viaForm.bytes).embeddings[0]!) > 0.999999);
});

t.test('16-bit PNG through HTTP is windowed, not truncated; TIFF pages by parameter', async (t) => {
  // Values 30000..30255: at 8 bits (v >> 8 or v / 257) that is one flat grey; windowed it spans black to white.
  const w = 64;
  const h = 64;
  const samples = Uint16Array.from({ length: w * h }, (_, i) => 30000 + Math.floor(((i % w) * 255) / (w - 1)));
  const png16 = await sharp(samples, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('grey16')
    .png()
    .toBuffer();
  t.equal((await sharp(png16).metadata()).depth, 'ushort', 'the fixture is 16-bit');
  const r = await raw('/preview', png16, 'image/png');
  ok(t, r, '16-bit PNG preview');
  const { pixels, record } = await preview(r);
  t.match(record.source, { format: 'png', bit_depth: 16, channels: 1 });
  t.match(record.window, { source: 'auto', function: 'LINEAR_EXACT' });
  t.equal(record.dicom, undefined);
  let min = 255;
  let max = 0;
  for (const v of pixels) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  t.ok(min <= 5 && max >= 250, `full contrast after windowing (min ${min}, max ${max})`);
  const embedded = await raw('/embed/image', png16, 'image/png');
  ok(t, embedded, '16-bit PNG embed');
  t.equal(parsed<EmbedBody>(embedded.bytes).preprocessing[0]!.source.bit_depth, 16);

  // An 8-bit two-page TIFF: page 1 (white) by parameter, page 0 by default, page 2 refused.
  const pattern = Buffer.alloc(24 * 24 * 3, 40);
  const tiff = await sharp(Buffer.concat([pattern, Buffer.alloc(24 * 24 * 3, 255)]), {
    raw: { width: 24, height: 48, channels: 3, pageHeight: 24 } as never,
  })
    .tiff()
    .toBuffer();
  const page1 = await preview(await raw('/preview', tiff, 'image/tiff', '?page=1'));
  t.equal(page1.record.source.page, 1);
  t.ok(
    page1.pixels.every((v) => v === 255),
    'page 1 is the white page',
  );
  const page0 = await preview(await raw('/preview', tiff, 'image/tiff'));
  t.ok(
    page0.pixels.every((v) => v === 40),
    'page 0 by default',
  );
  t.equal(page0.record.source.page, undefined);
  await refused(t, raw('/preview', tiff, 'image/tiff', '?page=2'), 400, /page 2 is out of range: this image has 2 page/);
  await refused(
    t,
    multipart('/embed/image', [
      ['image', png16],
      ['page', '1'],
    ]),
    400,
    /page 1 is out of range/,
  );
});

t.test('every failure class through HTTP: 422, 415, 413, 400 with a clear message, never 500', async (t) => {
  const sr = part10([
    [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.88.11'],
    [0x00080060, 'CS', 'SR'],
    [0x00100010, 'PN', PATIENT_NAME],
    [0x00100020, 'LO', PATIENT_ID],
    [0x0040a040, 'CS', 'CONTAINER'],
  ]);
  await refused(t, raw('/embed/image', sr), 422, /no pixel data/, 'undecodable');
  await refused(t, postJson('/classify', { image: sr.toString('base64'), labels: ['a', 'b'] }), 422, /no pixel data/);
  await refused(t, multipart('/preview', [['image', sr]]), 422, /no pixel data/);
  await refused(t, raw('/preview', ctAuto.subarray(0, ctAuto.length - 1000)), 422, /truncated/, 'undecodable');
  await refused(t, raw('/preview', Buffer.from('no DICOM here, just words')), 422, /not a DICOM object|malformed/);
  const oneBit = part10(
    imageElements({ rows: 8, columns: 8, bitsAllocated: 8, pixels: new Uint8Array(8) }).map((e): Element =>
      e[0] === 0x00280100 || e[0] === 0x00280101 ? [e[0], 'US', [1]] : e[0] === 0x00280102 ? [e[0], 'US', [0]] : e,
    ),
  );
  await refused(t, raw('/embed/image', oneBit), 422, /1-bit/, 'undecodable');
  const video = part10(imageElements(ct(), false), {
    transferSyntax: '1.2.840.10008.1.2.4.102',
    pixelData: encapsulated([new Uint8Array(32)]),
  });
  await refused(t, raw('/embed/image', video), 415, /video/, 'unsupported_media_type');
  await refused(t, postJson('/embed/image', { images: [video.toString('base64')] }), 415, /video/);
  // 2000 x 1000 claimed, a few bytes carried: the pixel cap (1e6) answers before any decoding.
  const huge = part10(
    imageElements({ ...ct(), pixels: new Uint8Array(16) }).map((e): Element =>
      e[0] === 0x00280010 ? [e[0], 'US', [1000]] : e[0] === 0x00280011 ? [e[0], 'US', [2000]] : e,
    ),
  );
  await refused(t, raw('/embed/image', huge), 413, /.+/, 'image_too_large');
  await refused(t, multipart('/preview', [['image', huge]]), 413, /.+/, 'image_too_large');
  // A thin strip within the pixel cap whose resize (shorter side to S) would not be: refused, not allocated.
  const strip = imageDicom({ rows: 1, columns: 20_000, bitsAllocated: 16, bitsStored: 12, modality: 'CT', pixels: new Uint8Array(40_000) });
  await refused(t, raw('/preview', strip), 413, new RegExp(`resizing this 20000x1 image .* ${S * 20_000}x${S} pixels`), 'image_too_large');
  // Several images: the failing one is named by position.
  await refused(
    t,
    postJson('/embed/image', { images: [ctAuto.toString('base64'), sr.toString('base64')] }),
    422,
    /^image 1: .*no pixel data/,
  );

  // Parameters.
  await refused(
    t,
    raw('/preview', ctAuto, 'application/dicom', '?window=ct-heart'),
    400,
    /window \(query parameter\) must be one of ct-soft-tissue, ct-lung/,
  );
  await refused(
    t,
    raw('/preview', ctAuto, 'application/dicom', '?window_center=40'),
    400,
    /window_center and window_width must be given together/,
  );
  await refused(
    t,
    raw('/preview', ctAuto, 'application/dicom', '?window_center=40&window_width=0'),
    400,
    /window_width \(query parameter\) must be at least 1/,
  );
  await refused(
    t,
    raw('/preview', ctAuto, 'application/dicom', '?window_center=abc&window_width=10'),
    400,
    /window_center \(query parameter\) must be a number/,
  );
  await refused(
    t,
    raw('/preview', ctAuto, 'application/dicom', '?window=ct-lung&window_center=40&window_width=400'),
    400,
    /either window .* not both/,
  );
  await refused(t, raw('/preview', ctMulti, 'application/dicom', '?frame=-1'), 400, /frame \(query parameter\) must be an integer/);
  await refused(t, raw('/preview', ctMulti, 'application/dicom', '?frame=one'), 400, /frame \(query parameter\) must be an integer/);
  await refused(t, raw('/preview', ctAuto, 'application/dicom', '?colour=red'), 400, /.+/, 'bad_request');
  await refused(
    t,
    multipart('/classify', [
      ['image', ctAuto],
      ['labels', 'a'],
      ['labels', 'b'],
      ['frame', '1.5'],
    ]),
    400,
    /frame \(form field\) must be an integer/,
  );
  await refused(
    t,
    multipart('/preview', [
      ['image', ctAuto],
      ['window', 'ct-lung'],
      ['window', 'ct-bone'],
    ]),
    400,
    /"window" was given 2 times/,
  );
  await refused(t, postJson('/embed/image', { images: [ctAuto.toString('base64')], window: 'bone' }), 400, /window/);
  await refused(t, postJson('/preview', { image: ctAuto.toString('base64'), window_width: 400 }), 400, /given together/);
  await refused(t, postJson('/preview', { image: ctAuto.toString('base64'), frame: 1.5 }), 400, /frame/);
  await refused(
    t,
    postJson('/preview', { image: ctAuto.toString('base64') }, '?window=ct-lung'),
    400,
    /window is a query parameter only with a raw image body/,
  );
  await refused(
    t,
    multipart(
      '/classify',
      [
        ['image', ctAuto],
        ['labels', 'a'],
        ['labels', 'b'],
      ],
      '?frame=0',
    ),
    400,
    /frame is a query parameter only/,
  );
  await refused(t, raw('/classify', ctAuto), 415, /multipart\/form-data or application\/json/);
  await refused(t, postJson('/preview', { images: [ctAuto.toString('base64')] }), 400, /.+/, 'bad_request');
  await refused(
    t,
    multipart('/preview', [
      ['image', ctAuto],
      ['image', ctAuto],
    ]),
    413,
    /.+/,
  );
});

t.test('malformed header numbers and transfer syntax UIDs through HTTP: 422 / 413 / 415, never 500', async (t) => {
  // 4000 x 4000 with all its pixels and Number of Frames "X": the NaN once slipped past the pixel cap (a 500).
  const square = imageElements({ rows: 4000, columns: 4000, bitsAllocated: 8, pixels: new Uint8Array(4000 * 4000) });
  const framesX = part10([...square, [0x00280008, 'IS', 'X']]);
  await refused(t, raw('/embed/image', framesX), 422, /Number of Frames \(0028,0008\) is not an integer/, 'undecodable');
  await refused(t, multipart('/preview', [['image', framesX]]), 422, /Number of Frames/, 'undecodable');
  // A sound frame count (none): rows x columns alone are over the cap (1e6), refused before any pixel is read.
  const squareHeader = part10(imageElements({ rows: 4000, columns: 4000, bitsAllocated: 8, pixels: new Uint8Array(16) }));
  await refused(
    t,
    raw('/embed/image', squareHeader),
    413,
    /4000 x 4000 = 16000000 pixels per frame, over the limit of 1000000/,
    'image_too_large',
  );
  for (const uid of ['__proto__', 'constructor', 'toString']) {
    await refused(
      t,
      raw('/embed/image', part10(imageElements(ct()), { transferSyntax: uid })),
      415,
      new RegExp(`${uid} is not supported`),
      'unsupported_media_type',
    );
  }
  await refused(
    t,
    raw(
      '/preview',
      imageDicom({
        ...ct(),
        extra: [
          [0x00281052, 'DS', '0'],
          [0x00281053, 'DS', '1e308'],
        ],
      }),
    ),
    422,
    /Rescale Slope\/Intercept/,
    'undecodable',
  );
});

t.test(
  "a corrupt compressed frame through HTTP: 422 naming the frame, codestream and transfer syntax, the codec's text only in the debug log",
  async (t) => {
    // A JPEG 2000 SIZ segment that agrees with Rows and Columns (48 x 64, one 12-bit component), then no COD segment.
    const siz = [0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0, 0, 0, 0, 64, 0, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0, 0, 48];
    const frame = Buffer.from([...siz, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 11, 1, 1, 0xff, 0x90, 1, 2, 3]);
    const corrupt = part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.90', pixelData: encapsulated([frame]) });
    const logged = logLines.length;
    const { res, bytes } = await raw('/embed/image', corrupt);
    const body = parsed<ErrorBody>(bytes);
    t.equal(res.status, 422);
    t.equal(body.error.code, 'undecodable');
    t.equal(
      body.error.message,
      'DICOM frame 0 could not be decoded: the JPEG 2000 codestream is corrupt or truncated (transfer syntax 1.2.840.10008.1.2.4.90, JPEG 2000 Lossless)',
    );
    t.notMatch(JSON.stringify(body), /::|Opj|Jpeg2000Buffer|COD|marker/, "none of OpenJPEG's own text");
    const diagnostic = logLines.slice(logged).find((l) => l.includes('what the codec said'));
    t.match(diagnostic, /"level":20.*Jpeg2000Buffer::OpjMessageCallbackError::required COD marker not found/, 'kept in the log, at debug');
  },
);

t.test('no patient name or ID in any response, header or log line', (t) => {
  t.ok(answered.length > 50, `${answered.length / 2} responses checked`);
  t.ok(logLines.length > 50, `${logLines.length} log lines checked`);
  t.ok(
    logLines.some((l) => l.includes('request refused')),
    'the refusals were logged',
  );
  const needles = [PATIENT_NAME, PATIENT_ID, 'Doe^Jane', 'Jane', 'PID-0000'];
  for (const [what, texts] of [
    ['responses', answered],
    ['logs', logLines],
  ] as const) {
    const leaks = needles.filter((n) => texts.some((text) => text.includes(n)));
    t.same(leaks, [], `no patient attribute in ${what}`);
  }
  t.end();
});
