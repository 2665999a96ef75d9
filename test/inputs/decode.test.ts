// The image transform: geometry as torchvision computes it, formats, limits and colour handling (real sharp),
// through the one entry point requests and the golden check use.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { ServiceError } from '../../src/errors.ts';
import { statusOf } from '../../src/http/errors/error-handler.ts';
import { decodeImage } from '../../src/inputs/decode.ts';
import { tensorOf } from '../../src/engine/feeds.ts';
import type { ModelInput } from '../../src/inputs/decode.ts';
import { PixelDecoder } from '../../src/inputs/decoder/pixel-decoder.ts';
import { sniffImageFormat } from '../../src/inputs/format.ts';
import type { InputLimits } from '../../src/inputs/limits.ts';
import { resizeAndCrop, roundHalfEven, transformGeometry } from '../../src/inputs/transform.ts';
import type { ImageTensorSpec } from '../../src/models/types.ts';
import { DEMO, ROOT } from '../helpers/common.ts';

const MEAN: [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
const STD: [number, number, number] = [0.26862954, 0.26130258, 0.27577711];
const spec = (size: number): ImageTensorSpec => ({ size, mean: MEAN, std: STD });
const limits = { imagePixels: 10_000_000 };

// 16-bit images go to the pixel decoder's threads, as in the service.
const decoder = new PixelDecoder({ threads: 1, taskTimeoutMs: 30_000, maxQueue: 16, logger: pino({ level: 'silent' }) });
await decoder.start();
t.teardown(() => decoder.close());
const decode = async (bytes: Buffer, s: ImageTensorSpec, lim: InputLimits = limits): Promise<ModelInput & { pixels: Float32Array }> => {
  const input = await decodeImage({ bytes }, s, { ...lim, decoder });
  return { ...input, pixels: tensorOf(input.pixels) };
};

/** A deterministic RGB test pattern (gradients + a checker), as raw bytes. */
function pattern(width: number, height: number): Buffer {
  const buf = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      buf[i] = (x * 255) / Math.max(1, width - 1);
      buf[i + 1] = (y * 255) / Math.max(1, height - 1);
      buf[i + 2] = ((x >> 3) + (y >> 3)) % 2 === 0 ? 40 : 220;
    }
  }
  return buf;
}
const encode = (raw: Buffer, width: number, height: number, channels: 1 | 3 | 4 = 3) => sharp(raw, { raw: { width, height, channels } });

async function rejects(t: Test, p: Promise<unknown>, status: number, code?: string) {
  try {
    await p;
    t.fail(`expected ${status}`);
  } catch (err) {
    t.ok(err instanceof ServiceError, String(err));
    t.equal(statusOf((err as ServiceError).code), status, (err as Error).message);
    if (code !== undefined) t.equal((err as ServiceError).code, code);
  }
}

t.test('roundHalfEven is Python round()', (t) => {
  t.plan(1);
  t.same([0.5, 1.5, 2.5, 3.5, -0.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, 4, -0, 2, 3, 7]);
});

t.test('geometry: torchvision Resize(S) + CenterCrop(S)', (t) => {
  t.plan(7);
  t.same(transformGeometry(300, 200, 224), {
    resize: { width: 336, height: 224 },
    crop: { left: 56, top: 0, width: 224, height: 224 },
    size: 224,
  });
  t.same(transformGeometry(200, 300, 224).resize, { width: 224, height: 336 });
  // long side truncated: 224 * 333 / 200 = 372.96 -> 372; crop left (372 - 224) / 2 = 74
  t.same(transformGeometry(333, 200, 224), {
    resize: { width: 372, height: 224 },
    crop: { left: 74, top: 0, width: 224, height: 224 },
    size: 224,
  });
  // shorter side already S: no resize, odd excess rounds half to even ((225 - 224) / 2 = 0.5 -> 0; 3 / 2 = 1.5 -> 2)
  t.same(transformGeometry(225, 224, 224), { resize: null, crop: { left: 0, top: 0, width: 224, height: 224 }, size: 224 });
  t.same(transformGeometry(224, 227, 224).crop, { left: 0, top: 2, width: 224, height: 224 });
  t.same(transformGeometry(112, 112, 112).resize, null);
  t.same(transformGeometry(50, 40, 112).resize, { width: 140, height: 112 }, 'upscaling too');
});

t.test('an S x S image: the tensor is exactly (x / 255 - mean) / std in float32, CHW', async (t) => {
  const raw = pattern(16, 16);
  const png = await encode(raw, 16, 16).png().toBuffer();
  const { pixels, preprocessing } = await decode(png, spec(16), limits);
  t.equal(pixels.length, 3 * 16 * 16);
  t.same(preprocessing.transform, { resize: null, crop: { left: 0, top: 0, width: 16, height: 16 }, size: 16 });
  let mismatches = 0;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 256; i++) {
      const expected = Math.fround(Math.fround(Math.fround(raw[i * 3 + c]! / 255) - Math.fround(MEAN[c]!)) / Math.fround(STD[c]!));
      if (pixels[c * 256 + i] !== expected) mismatches++;
    }
  }
  t.equal(mismatches, 0);
});

t.test('resize and crop: 30x20 -> 24x16 then the centre 16x16', async (t) => {
  const png = await encode(pattern(30, 20), 30, 20).png().toBuffer();
  const { pixels, preprocessing } = await decode(png, spec(16), limits);
  t.same(preprocessing.transform, { resize: { width: 24, height: 16 }, crop: { left: 4, top: 0, width: 16, height: 16 }, size: 16 });
  t.same(preprocessing.source, { format: 'png', width: 30, height: 20, channels: 3, bit_depth: 8, has_alpha: false, pages: 1 });
  // Red rises with x: the crop keeps the middle, so the left column is well above 0 and the right below 255.
  const red = (x: number, y: number) => pixels[y * 16 + x]! * STD[0] + MEAN[0];
  t.ok(red(0, 8) > 0.1 && red(15, 8) < 0.9, 'centre crop of the horizontal gradient');
});

t.test('golden_exact.png decodes without resize; golden_resized.png is resized and cropped', async (t) => {
  const model = JSON.parse(readFileSync(join(DEMO, 'model.json'), 'utf8')) as { image: ImageTensorSpec };
  const s: ImageTensorSpec = { size: model.image.size, mean: model.image.mean, std: model.image.std };
  const exact = await decode(readFileSync(join(DEMO, 'golden_exact.png')), s, limits);
  t.equal(exact.preprocessing.transform.resize, null);
  const resized = await decode(readFileSync(join(DEMO, 'golden_resized.png')), s, limits);
  t.not(resized.preprocessing.transform.resize, null);
  t.equal(resized.pixels.length, 3 * s.size * s.size);
});

t.test('colour: grey is expanded, alpha dropped without compositing, palettes expanded', async (t) => {
  const raw = pattern(20, 20);
  const rgb = await decode(await encode(raw, 20, 20).png().toBuffer(), spec(20), limits);

  const grey = Buffer.alloc(400);
  for (let i = 0; i < 400; i++) grey[i] = raw[i * 3]!;
  const g = await decode(await encode(grey, 20, 20, 1).toColourspace('b-w').png().toBuffer(), spec(20), limits);
  t.equal(g.preprocessing.source.channels, 1);
  for (let c = 0; c < 3; c++) {
    const v = (g.pixels[c * 400 + 37]! * STD[c]! + MEAN[c]!) * 255;
    t.ok(Math.abs(v - grey[37]!) < 1e-3, `grey value replicated into channel ${c}`);
  }

  const rgba = Buffer.alloc(20 * 20 * 4);
  for (let i = 0; i < 400; i++) {
    raw.copy(rgba, i * 4, i * 3, i * 3 + 3);
    rgba[i * 4 + 3] = i % 2 === 0 ? 0 : 128; // transparent or half: colours must survive untouched
  }
  const a = await decode(await encode(rgba, 20, 20, 4).png().toBuffer(), spec(20), limits);
  t.equal(a.preprocessing.source.has_alpha, true);
  t.same(Array.from(a.pixels), Array.from(rgb.pixels), 'alpha dropped, RGB kept as is');

  const palette = await encode(raw, 20, 20).png({ palette: true, colours: 256, dither: 0 }).toBuffer();
  const p = await decode(palette, spec(20), limits);
  t.equal(p.pixels.length, 3 * 400);
});

t.test('decode, resize and crop in one sharp pipeline give the same bytes as decoding to RGB first', async (t) => {
  // The one-pass path (RGB or grey 8-bit without alpha) must not differ from the two-step one by a single level;
  // JPEG is the case to watch: from a 4x reduction sharp would shrink it while decoding unless told not to.
  const cases: [string, number, number, (s: Sharp) => Sharp][] = [
    ['jpeg', 640, 480, (s) => s.jpeg({ quality: 90 })],
    ['jpeg', 2000, 1500, (s) => s.jpeg({ quality: 90 })],
    ['grey jpeg', 640, 480, (s) => s.toColourspace('b-w').jpeg()],
    ['png', 300, 200, (s) => s.png()],
    ['grey png', 113, 500, (s) => s.toColourspace('b-w').png()],
    ['webp', 640, 480, (s) => s.webp({ quality: 80 })],
    ['jpeg, no resize', 112, 130, (s) => s.jpeg()],
  ];
  // The two-step path, written out here: the whole image to 8-bit RGB as convert('RGB') does, then the transform.
  const twoStep = async (bytes: Buffer, size: number) => {
    const { data, info } = await sharp(bytes, { autoOrient: false, ignoreIcc: true, failOn: 'warning' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    return resizeAndCrop({ kind: 'rgb', data, width: info.width, height: info.height }, size, limits);
  };
  for (const [name, width, height, format] of cases) {
    const bytes = await format(encode(pattern(width, height), width, height)).toBuffer();
    const expected = await twoStep(bytes, 112);
    const onePass = await decode(bytes, spec(112));
    t.same(onePass.preprocessing.transform, expected.transform, `${name} ${width}x${height}: same geometry`);
    t.ok(onePass.view.equals(expected.view), `${name} ${width}x${height}: identical bytes`);
  }
});

t.test('formats: JPEG, WebP, TIFF decode; multi-page TIFF uses page 0; EXIF orientation ignored', async (t) => {
  const raw = pattern(24, 24);
  for (const [format, buf] of [
    ['jpeg', await encode(raw, 24, 24).jpeg({ quality: 95 }).toBuffer()],
    ['webp', await encode(raw, 24, 24).webp({ lossless: true }).toBuffer()],
    ['tiff', await encode(raw, 24, 24).tiff().toBuffer()],
  ] as const) {
    const d = await decode(buf, spec(24), limits);
    t.equal(d.preprocessing.source.format, format);
  }
  const lossless = await decode(await encode(raw, 24, 24).webp({ lossless: true }).toBuffer(), spec(24), limits);
  const png = await decode(await encode(raw, 24, 24).png().toBuffer(), spec(24), limits);
  t.same(Array.from(lossless.pixels), Array.from(png.pixels), 'lossless WebP == PNG');

  // Two pages stacked vertically (24 x 48) written as a 2-page TIFF; page 0 is the top half.
  const pages = Buffer.concat([raw, Buffer.alloc(24 * 24 * 3, 255)]);
  const tiff = await sharp(pages, { raw: { width: 24, height: 48, channels: 3, pageHeight: 24 } as never })
    .tiff({ compression: 'lzw' })
    .toBuffer();
  const multi = await decode(tiff, spec(24), limits);
  t.equal(multi.preprocessing.source.pages, 2);
  t.same(Array.from(multi.pixels), Array.from(png.pixels), 'page 0 only');

  const rotated = await encode(raw, 24, 24).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
  const plain = await encode(raw, 24, 24).jpeg({ quality: 95 }).toBuffer();
  t.same(
    Array.from((await decode(rotated, spec(24), limits)).pixels),
    Array.from((await decode(plain, spec(24), limits)).pixels),
    'no EXIF rotation',
  );
});

t.test('16-bit input is windowed to 8 bits (not clipped)', async (t) => {
  const png16 = await sharp(Buffer.alloc(8 * 8 * 3 * 2, 0x80), { raw: { width: 8, height: 8, channels: 3 } })
    .toColourspace('rgb16')
    .png()
    .toBuffer()
    .catch(() => undefined);
  if (png16 === undefined) {
    t.comment('this sharp build cannot write 16-bit PNG');
    return;
  }
  const d = await decode(png16, spec(8), limits);
  t.equal(d.preprocessing.source.bit_depth, 16);
  t.match(d.preprocessing.window, { source: 'auto', function: 'LINEAR_EXACT' }, 'windowed by the wide reader');
  t.ok(d.pixels.every((v) => Number.isFinite(v)));
});

t.test('refusals: 415 for other formats, 422 for damaged content, 413 past the pixel limit', async (t) => {
  const png = await encode(pattern(40, 30), 40, 30).png().toBuffer();
  const gif = await encode(pattern(8, 8), 8, 8).gif().toBuffer();
  t.same(sniffImageFormat(gif), { kind: 'unsupported', name: 'GIF' });
  await rejects(t, decode(gif, spec(16), limits), 415, 'unsupported_media_type');
  await rejects(t, decode(Buffer.from('%PDF-1.4 ...'), spec(16), limits), 415);
  // A DICM preamble sends the file to the DICOM reader, which finds no image in it.
  const dicom = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.alloc(16)]);
  t.same(sniffImageFormat(dicom), { kind: 'dicom' });
  await rejects(t, decode(dicom, spec(16), limits), 422, 'undecodable');
  await rejects(t, decode(Buffer.from('hello world'), spec(16), limits), 422, 'undecodable');
  await rejects(t, decode(Buffer.alloc(0), spec(16), limits), 422);
  await rejects(t, decode(png.subarray(0, png.length - 30), spec(16), limits), 422, 'undecodable');
  const jpeg = await encode(pattern(64, 64), 64, 64).jpeg().toBuffer();
  await rejects(t, decode(jpeg.subarray(0, jpeg.length / 2), spec(16), limits), 422, 'undecodable');
  await rejects(t, decode(png, spec(16), { imagePixels: 40 * 30 - 1 }), 413, 'image_too_large');
  const ok = await decode(png, spec(16), { imagePixels: 40 * 30 });
  t.equal(ok.preprocessing.source.width, 40, 'exactly at the limit is fine');
});

t.test('a damaged image gets the same message however many others fail beside it', async (t) => {
  // libvips has one error buffer per process: read as the message, it mixed in other images' errors at random.
  const png = readFileSync(join(ROOT, 'examples/chest-xray.png'));
  const jpeg = await encode(pattern(256, 256), 256, 256).jpeg().toBuffer();
  const damaged = { PNG: png.subarray(0, 200), JPEG: jpeg.subarray(0, jpeg.length / 2) };
  const messages = { PNG: new Set<string>(), JPEG: new Set<string>() };
  for (let round = 0; round < 10; round++) {
    const attempts = Object.entries(damaged).flatMap(([format, bytes]) =>
      Array.from({ length: 6 }, () =>
        decode(bytes, spec(16)).then(
          () => t.fail(`a damaged ${format} decoded`),
          (err: unknown) =>
            messages[format as keyof typeof messages].add(
              err instanceof ServiceError ? `${statusOf(err.code)} ${err.code} ${err.message}` : String(err),
            ),
        ),
      ),
    );
    await Promise.all(attempts);
  }
  t.same([...messages.PNG], ['422 undecodable the PNG image could not be decoded: the file is damaged or truncated']);
  t.same([...messages.JPEG], ['422 undecodable the JPEG image could not be decoded: the file is damaged or truncated']);
});
