// 16-bit PNG/TIFF read at full depth and windowed with the DICOM automatic rule; checked against numpy (files and
// renders from test/fixtures/dicom/high-bit-depth.py, committed, or run live by `npm run test:reference`).
import t from 'tap';
import sharp from 'sharp';
import { ServiceError } from '../../../src/errors.ts';
import { decodeImage } from '../../../src/inputs/decode.ts';
import { sniffImageFormat } from '../../../src/inputs/format.ts';
import { readHeader } from '../../../src/inputs/header.ts';
import type { InputLimits } from '../../../src/inputs/limits.ts';
import { readWide } from '../../../src/inputs/wide.ts';
import { compare, highBitDepthFixtures } from '../../fixtures/dicom/tools.ts';
import { DICOM_TEST_LIMITS, dicomDecoderSetup } from '../../helpers/dicom-decoder.ts';

const LIMITS = DICOM_TEST_LIMITS;
const { decoder, work } = await dicomDecoderSetup();

/** The wide reader's full-size 8-bit RGB and record, before the model transform; undefined for an 8-bit file. */
async function readHighBitDepth(bytes: Buffer, options: { page?: number }, limits: InputLimits) {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed.kind !== 'supported') throw new Error(`fixture is not an image: ${sniffed.kind}`);
  const header = await readHeader(bytes, sniffed.format, options.page ?? 0, limits);
  if (header.wide === undefined) return undefined;
  const { pixels, record } = await readWide(bytes, { ...header, wide: header.wide }, decoder, limits);
  if (pixels.kind !== 'rgb') throw new Error('the wide reader hands the transform decoded RGB');
  return { data: pixels.data, record: { ...record.source, window: record.window! } };
}
const expected = highBitDepthFixtures(work);
const file = (name: string) => work.read(work.path(name));

t.test('16-bit greyscale PNG: full depth, percentile window, matches numpy', async (t) => {
  const image = await readHighBitDepth(file('grey16.png'), {}, LIMITS);
  t.ok(image);
  t.equal(image!.record.bit_depth, 16);
  t.equal(image!.record.format, 'png');
  t.match(image!.record.window, { function: 'LINEAR_EXACT', source: 'auto' });
  const { max, differing } = compare(image!.data, Buffer.from(expected.grey16!, 'base64'));
  t.ok(max <= 1, `within 1 grey level (max ${max}, ${differing} differ)`);
  // Truncating to 8 bits would have kept the 16-bit range's top byte: the window must be narrower than that.
  t.ok(image!.record.window.width! < 30000, `window width ${image!.record.window.width}`);
});

t.test('multi-page 16-bit TIFF: page 1 is its own image', async (t) => {
  const image = await readHighBitDepth(file('pages16.tif'), { page: 1 }, LIMITS);
  t.equal(image!.record.page, 1);
  t.equal(image!.record.pages, 2);
  t.ok(compare(image!.data, Buffer.from(expected.page1!, 'base64')).max <= 1);
  const first = await readHighBitDepth(file('pages16.tif'), {}, LIMITS);
  t.equal(first!.record.page, undefined, 'page 0 is not named in the record');
  t.ok(compare(first!.data, Buffer.from(expected.grey16!, 'base64')).max <= 1, 'page 0 by default');
  t.not(first!.record.window.center, image!.record.window.center, 'the pages have different windows');
});

t.test('32-bit float TIFF is windowed too', async (t) => {
  const image = await readHighBitDepth(file('float32.tif'), {}, LIMITS);
  t.equal(image!.record.bit_depth, 32);
  const { max } = compare(image!.data, Buffer.from(expected.float32!, 'base64'));
  t.ok(max <= 1, `within 1 grey level (max ${max})`);
});

t.test('16-bit RGB PNG: one window for all channels, hues kept', async (t) => {
  const w = 32;
  const h = 16;
  const samples = new Uint16Array(w * h * 3).map((_, i) => (i % 3 === 0 ? 40000 : i % 3 === 1 ? 30000 : 20000) + Math.floor(i / 3) * 10);
  // A Uint16Array input tells sharp the raw samples are 16-bit.
  const png = await sharp(samples, { raw: { width: w, height: h, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer();
  const image = await readHighBitDepth(png, {}, LIMITS);
  t.ok(image, 'read as high bit depth');
  t.equal(image!.data.length, w * h * 3);
  const mid = 3 * ((w * h) / 2);
  t.ok(image!.data[mid]! > image!.data[mid + 1]! && image!.data[mid + 1]! > image!.data[mid + 2]!, 'red > green > blue survives windowing');
});

t.test('8-bit PNG is left to the ordinary path', async (t) => {
  t.equal(await readHighBitDepth(file('grey8.png'), {}, LIMITS), undefined);
});

t.test('page out of range: 400', async (t) => {
  await t.rejects(readHighBitDepth(file('pages16.tif'), { page: 2 }, LIMITS), {
    code: 'bad_request',
    message: /page 2 is out of range.*2 page/,
  });
  await t.rejects(readHighBitDepth(file('grey16.png'), { page: 1 }, LIMITS), { code: 'bad_request', message: /page 1/ });
});

t.test('over the pixel limit: 413', async (t) => {
  await t.rejects(readHighBitDepth(file('grey16.png'), {}, { imagePixels: 100 }), {
    code: 'image_too_large',
    message: /MAX_IMAGE_PIXELS/,
  });
});

t.test('garbage: 422', async (t) => {
  const error = await decodeImage(
    { bytes: Buffer.from('not an image at all') },
    { size: 8, mean: [0, 0, 0], std: [1, 1, 1] },
    { ...LIMITS, decoder },
  ).catch((e: unknown) => e);
  t.type(error, ServiceError);
  t.equal((error as ServiceError).code, 'undecodable');
});
