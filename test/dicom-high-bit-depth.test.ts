// 16-bit PNG/TIFF read at full depth and windowed with the DICOM automatic rule; checked against numpy.
import t from 'tap';
import sharp from 'sharp';
import { ServiceError } from '../src/errors.ts';
import { closeDecoderPool } from '../src/inputs/dicom/index.ts';
import { readHighBitDepth } from '../src/inputs/high-bit-depth.ts';
import { compare, run, Workdir } from './fixtures/dicom/tools.ts';

const LIMITS = { imagePixels: 64 * 1024 * 1024 };
const work = new Workdir();
t.teardown(async () => {
  work.remove();
  await closeDecoderPool();
});
const script = new URL('./fixtures/dicom/high-bit-depth.py', import.meta.url).pathname;
const expected = JSON.parse(run('/usr/bin/python3', [script, work.dir])) as Record<string, string>;
const file = (name: string) => work.read(work.path(name));

t.test('16-bit greyscale PNG: full depth, percentile window, matches numpy', async (t) => {
  const image = await readHighBitDepth(file('grey16.png'), {}, LIMITS);
  t.ok(image);
  t.equal(image!.record.bitDepth, 16);
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
  t.equal(first!.record.page, 0);
  t.ok(compare(first!.data, Buffer.from(expected.grey16!, 'base64')).max <= 1, 'page 0 by default');
  t.not(first!.record.window.center, image!.record.window.center, 'the pages have different windows');
});

t.test('32-bit float TIFF is windowed too', async (t) => {
  const image = await readHighBitDepth(file('float32.tif'), {}, LIMITS);
  t.equal(image!.record.bitDepth, 32);
  const { max } = compare(image!.data, Buffer.from(expected.float32!, 'base64'));
  t.ok(max <= 1, `within 1 grey level (max ${max})`);
});

t.test('16-bit RGB PNG: one window for all channels, hues kept', async (t) => {
  const w = 32;
  const h = 16;
  const samples = new Uint16Array(w * h * 3).map((_, i) => (i % 3 === 0 ? 40000 : i % 3 === 1 ? 30000 : 20000) + Math.floor(i / 3) * 10);
  // A Uint16Array input tells sharp the raw samples are 16-bit.
  const png = await sharp(samples, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const image = await readHighBitDepth(png, {}, LIMITS);
  t.ok(image, 'read as high bit depth');
  t.equal(image!.data.length, w * h * 3);
  const mid = 3 * (w * h / 2);
  t.ok(image!.data[mid]! > image!.data[mid + 1]! && image!.data[mid + 1]! > image!.data[mid + 2]!, 'red > green > blue survives windowing');
});

t.test('8-bit PNG is left to the ordinary path', async (t) => {
  t.equal(await readHighBitDepth(file('grey8.png'), {}, LIMITS), undefined);
});

t.test('page out of range: 400', async (t) => {
  await t.rejects(readHighBitDepth(file('pages16.tif'), { page: 2 }, LIMITS), { statusCode: 400, message: /page 2 is out of range.*2 page/ });
  await t.rejects(readHighBitDepth(file('grey16.png'), { page: 1 }, LIMITS), { statusCode: 400, message: /page 1/ });
});

t.test('over the pixel limit: 413', async (t) => {
  await t.rejects(readHighBitDepth(file('grey16.png'), {}, { imagePixels: 100 }), { statusCode: 413, message: /pixel limit/ });
});

t.test('garbage: 422', async (t) => {
  const error = await readHighBitDepth(Buffer.from('not an image at all'), {}, LIMITS).catch((e: unknown) => e);
  t.type(error, ServiceError);
  t.equal((error as ServiceError).statusCode, 422);
});
