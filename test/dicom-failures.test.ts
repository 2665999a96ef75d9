// Every failure class answers with the right ServiceError (status, and a message that says what is wrong), never
// an unclassified error or a dead decoder.
import t, { type Test } from 'tap';
import { ServiceError } from '../src/errors.ts';
import { closeDecoderPool, isDicom, renderDicom, type DecodeLimits, type RenderOptions } from '../src/inputs/dicom/index.ts';
import { ct, ctValues, mono12, ROWS, COLUMNS } from './fixtures/dicom/images.ts';
import { DecoderPool } from '../src/inputs/dicom/pool.ts';
import { Workdir } from './fixtures/dicom/tools.ts';
import { bytesOf, encapsulated, imageDicom, imageElements, part10, type Element } from './fixtures/dicom/writer.ts';

const LIMITS = { imagePixels: 64 * 1024 * 1024 };
const work = new Workdir();
t.teardown(async () => {
  work.remove();
  await closeDecoderPool();
});

async function rejects(t: Test, bytes: Uint8Array, status: number, message: RegExp, options: RenderOptions = {}, limits: DecodeLimits = LIMITS) {
  try {
    await renderDicom(bytes, options, limits);
    t.fail(`expected a ${status}`);
  } catch (error) {
    t.type(error, ServiceError);
    const e = error as ServiceError;
    t.equal(e.statusCode, status, e.message);
    t.match(e.message, message);
  }
}

const good = imageDicom(ct());
const multi = imageDicom({ ...ct([], Int16Array.from({ length: 3 * ROWS * COLUMNS }, (_, i) => ctValues()[i % (ROWS * COLUMNS)]!)), frames: 3 });
const textSr: Element[] = [
  [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.88.11'],
  [0x00080060, 'CS', 'SR'],
  [0x0040a040, 'CS', 'CONTAINER'],
];

t.test('isDicom recognises the Part 10 preamble only', (t) => {
  t.ok(isDicom(good));
  t.notOk(isDicom(Buffer.from('\x89PNG\r\n\x1a\n')));
  t.notOk(isDicom(Buffer.alloc(10)));
  t.end();
});

t.test('no pixel data (structured report): 422', (t) => rejects(t, part10(textSr), 422, /no pixel data.*1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\.11/));

t.test('truncated file: 422', (t) => rejects(t, good.subarray(0, good.length - 1000), 422, /truncated/));

t.test('truncated in the header: 422', (t) => rejects(t, good.subarray(0, 300), 422, /malformed or truncated DICOM: .*(overrun|past end|beyond)/));

t.test('garbage after the preamble: 422', (t) => {
  const bytes = Buffer.concat([good.subarray(0, 132), Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 97) % 256))]);
  return rejects(t, bytes, 422, /malformed|truncated/);
});

t.test('not DICOM at all: 422', (t) => rejects(t, Buffer.from('this is plainly not a DICOM file, just text'), 422, /not a DICOM object|malformed/));

t.test('1-bit segmentation: 422', (t) => {
  const spec = { rows: 8, columns: 8, bitsAllocated: 8 as const, pixels: new Uint8Array(8) };
  const elements = imageElements(spec).map((e): Element => (e[0] === 0x00280100 ? [e[0], 'US', [1]] : e[0] === 0x00280101 ? [e[0], 'US', [1]] : e[0] === 0x00280102 ? [e[0], 'US', [0]] : e));
  return rejects(t, part10(elements), 422, /1-bit/);
});

t.test('float pixel data: 422', (t) => {
  const elements = imageElements({ rows: 4, columns: 4, bitsAllocated: 32, pixels: new Uint8Array(64) }, false);
  return rejects(t, part10([...elements, [0x7fe00008, 'OF', new Uint8Array(64)]]), 422, /floating-point/);
});

t.test('video transfer syntax: 415', (t) =>
  rejects(t, part10(imageElements(ct(), false), { transferSyntax: '1.2.840.10008.1.2.4.102', pixelData: encapsulated([new Uint8Array(32)]) }), 415, /video/));

t.test('HEVC: 415', (t) =>
  rejects(t, part10(imageElements(ct(), false), { transferSyntax: '1.2.840.10008.1.2.4.107', pixelData: encapsulated([new Uint8Array(32)]) }), 415, /HEVC/));

t.test('unknown transfer syntax: 415 naming it', (t) =>
  rejects(t, part10(imageElements(ct()), { transferSyntax: '1.2.3.4.5' }), 415, /1\.2\.3\.4\.5 is not supported/));

t.test('rows x columns x frames over the cap: 413 before any pixel data is read', (t) => {
  // Claims 4096 x 4096 x 10 frames but carries a few bytes: a decoder that looked at pixels first would say 422.
  const elements = imageElements({ ...ct(), pixels: new Uint8Array(16) }).map((e): Element =>
    e[0] === 0x00280010 || e[0] === 0x00280011 ? [e[0], 'US', [4096]] : e,
  );
  return rejects(t, part10([...elements, [0x00280008, 'IS', '10']]), 413, /4096 x 4096 x 10/, { frame: 0 }, { imagePixels: 100_000_000 });
});

t.test('a frame count cap, when given: 413', (t) => rejects(t, multi, 413, /3 frames, over the limit of 2/, { frame: 0 }, { ...LIMITS, frames: 2 }));

t.test('multi-frame without frame: 400 saying so', (t) => rejects(t, multi, 400, /3 frames: choose one with the frame parameter/));

t.test('frame out of range: 400', (t) => rejects(t, multi, 400, /frame 3 is out of range.*3 frame/, { frame: 3 }));

t.test('frame > 0 of a single-frame object: 400', (t) => rejects(t, good, 400, /out of range/, { frame: 1 }));

t.test('window width below 1: 400', (t) => rejects(t, good, 400, /window_width/, { windowCenter: 40, windowWidth: 0 }));

t.test('corrupt JPEG-LS codestream: 422 naming the codec, and the codec still works afterwards', async (t) => {
  await rejects(t, part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.80', pixelData: encapsulated([Buffer.from([0xff, 0xd8, 0xff, 0xf7, 1, 2, 3, 4])]) }), 422, /jpeg-ls frame cannot be decoded/);
  const jls = work.read(work.convert('dcmcjpls', [], work.write('mono12.dcm', imageDicom(mono12()))));
  // The codestream cut in half and re-encapsulated: the codec itself meets the truncation.
  const start = jls.indexOf(Buffer.from([0xff, 0xd8, 0xff, 0xf7]));
  const end = jls.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2;
  t.ok(start > 0 && end > start, 'found the JPEG-LS codestream');
  const half = jls.subarray(start, start + Math.floor((end - start) / 2));
  const truncated = part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.80', pixelData: encapsulated([half]) });
  await rejects(t, truncated, 422, /jpeg-ls frame cannot be decoded/);
  // Then the intact file must still decode on the same pool.
  const image = await renderDicom(jls, {}, LIMITS);
  t.equal(image.record.transferSyntaxUid, '1.2.840.10008.1.2.4.80');
});

t.test('corrupt JPEG 2000 codestream: 422', (t) =>
  rejects(t, part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.90', pixelData: encapsulated([Buffer.from([0xff, 0x4f, 0xff, 0x51, 0, 0, 0])]) }), 422, /jpeg2000/));

t.test('corrupt JPEG codestream: 422', (t) =>
  rejects(t, part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.57', pixelData: encapsulated([Buffer.from([0xff, 0xd8, 0xff, 0xd9])]) }), 422, /jpeg/));

t.test('native syntax with encapsulated pixel data: 422', (t) =>
  rejects(t, part10(imageElements(mono12(), false), { pixelData: encapsulated([new Uint8Array(8)]) }), 422, /encapsulated/));

t.test('Bits Stored larger than Bits Allocated: 422', (t) => rejects(t, imageDicom({ ...ct(), bitsStored: 20, highBit: 19 }), 422, /Bits Stored 20/));

t.test('after all of that the decoder still renders', async (t) => {
  const image = await renderDicom(good, {}, LIMITS);
  t.equal(image.data.length, ROWS * COLUMNS * 3);
  t.equal(bytesOf(new Uint8Array(image.data)).length, image.data.length);
});

t.test('a task over the decoder timeout: 422, and the pool recovers', async (t) => {
  // 1 ms cannot cover starting a worker thread, let alone decoding: the watchdog must fire.
  const impatient = new DecoderPool(1, { taskTimeoutMs: 1 });
  t.teardown(() => impatient.close());
  const result = impatient.run({ kind: 'dicom', bytes: new Uint8Array(good), options: {}, limits: LIMITS });
  await t.rejects(result, { statusCode: 422, message: /took longer than 1 ms/ });
  const image = await renderDicom(good, {}, LIMITS);
  t.equal(image.width, COLUMNS, 'the shared pool is unaffected');
});

t.test('window_center without window_width: 400', (t) => rejects(t, good, 400, /together/, { windowCenter: 40 }));
