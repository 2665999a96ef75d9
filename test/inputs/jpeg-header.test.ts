// The JavaScript read of a common JPEG's header against sharp's metadata (real sharp, real files): the same
// fields for every file it reads, and undefined (sharp reads it) for everything else.
import sharp from 'sharp';
import t from 'tap';
import { readJpegHeader } from '../../src/inputs/jpeg-header.ts';

const FIELDS = ['width', 'height', 'channels', 'space', 'depth', 'hasAlpha', 'pages', 'bitsPerSample'] as const;

function pattern(width: number, height: number, channels: 1 | 3): Buffer {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 5) * 11) & 255;
  return data;
}

const image = (width: number, height: number, channels: 1 | 3 = 3) =>
  sharp(pattern(width, height, channels), { raw: { width, height, channels } });

async function sharpFields(bytes: Buffer): Promise<Record<string, unknown>> {
  const meta = await sharp(bytes).metadata();
  return Object.fromEntries(FIELDS.map((f) => [f, meta[f]]));
}

const withExifAndIcc = await image(64, 48).withMetadata({ orientation: 6 }).withIccProfile('p3').jpeg().toBuffer();

const common: Record<string, Buffer> = {
  'baseline 4:2:0': await image(97, 61).jpeg().toBuffer(),
  'baseline 4:4:4': await image(97, 61).jpeg({ chromaSubsampling: '4:4:4' }).toBuffer(),
  progressive: await image(300, 200).jpeg({ progressive: true }).toBuffer(),
  mozjpeg: await image(120, 80).jpeg({ mozjpeg: true }).toBuffer(),
  'optimized Huffman tables': await image(33, 700).jpeg({ optimiseCoding: true }).toBuffer(),
  grey: await image(50, 40, 1).toColourspace('b-w').jpeg().toBuffer(),
  'EXIF orientation and ICC profile': withExifAndIcc,
  '512 x 512 (the bench image size)': await image(512, 512).jpeg({ quality: 90 }).toBuffer(),
};

for (const [name, bytes] of Object.entries(common)) {
  t.test(`read here: ${name}`, async (t) => {
    const mine = readJpegHeader(bytes);
    t.ok(mine, 'read in JavaScript');
    t.same(Object.fromEntries(FIELDS.map((f) => [f, mine?.[f]])), await sharpFields(bytes), "the fields sharp's metadata gives");
  });
}

t.test('left to sharp', async (t) => {
  const baseline = common['baseline 4:2:0']!;
  const cmyk = await image(40, 30).toColourspace('cmyk').jpeg().toBuffer();
  t.equal((await sharp(cmyk).metadata()).space, 'cmyk', 'the CMYK file is CMYK to sharp');
  const cases: Record<string, Buffer> = {
    'CMYK (Adobe marker, 4 components)': cmyk,
    'no SOI': baseline.subarray(2),
    'truncated inside the first segment': baseline.subarray(0, 8),
    'truncated before the frame header': baseline.subarray(0, 22),
    empty: Buffer.alloc(0),
    'a PNG': await image(8, 8).png().toBuffer(),
  };
  // The frame header's precision set to 12 and its marker to lossless or arithmetic: not the common file.
  const sof = baseline.indexOf(Buffer.from([0xff, 0xc0]));
  t.ok(sof > 0, 'the baseline file has an SOF0 marker');
  const patched = (offset: number, value: number): Buffer => {
    const copy = Buffer.from(baseline);
    copy[offset] = value;
    return copy;
  };
  cases['12-bit precision'] = patched(sof + 4, 12);
  cases['lossless frame (SOF3)'] = patched(sof + 1, 0xc3);
  cases['arithmetic frame (SOF9)'] = patched(sof + 1, 0xc9);
  cases['zero height (DNL)'] = (() => {
    const copy = Buffer.from(baseline);
    copy[sof + 5] = 0;
    copy[sof + 6] = 0;
    return copy;
  })();
  cases['two components'] = patched(sof + 9, 2);
  // 65 tiny comment segments before the frame: past the walk's bound.
  const comments = Buffer.concat(Array.from({ length: 65 }, () => Buffer.from([0xff, 0xfe, 0x00, 0x03, 0x41])));
  cases['frame header after 65 segments'] = Buffer.concat([baseline.subarray(0, 2), comments, baseline.subarray(2)]);
  for (const [name, bytes] of Object.entries(cases)) t.equal(readJpegHeader(bytes), undefined, name);
  // The bound is on segments, not a guess: 60 comments in front still read here, and say what sharp says.
  const sixty = Buffer.concat([baseline.subarray(0, 2), comments.subarray(0, 60 * 5), baseline.subarray(2)]);
  t.same(
    Object.fromEntries(FIELDS.map((f) => [f, readJpegHeader(sixty)?.[f]])),
    await sharpFields(sixty),
    'a frame header after 60 comment segments is read, as sharp reads it',
  );
});
