// Every failure class answers with the right ServiceError (status, and a message that says what is wrong), never
// an unclassified error or a dead decoder.
import t, { type Test } from 'tap';
import { ServiceError } from '../../../src/errors.ts';
import { statusOf } from '../../../src/http/errors/error-handler.ts';
import type { RenderOptions, WindowPreset } from '../../../src/inputs/dicom/index.ts';
import { sniffImageFormat } from '../../../src/inputs/format.ts';
import type { InputLimits } from '../../../src/inputs/limits.ts';
import { ct, ctValues, lutItem, mono12, ROWS, COLUMNS } from '../../fixtures/dicom/images.ts';
import { bytesOf, encapsulated, imageDicom, imageElements, part10, type Element } from '../../fixtures/dicom/writer.ts';
import { DICOM_TEST_LIMITS, dicomDecoderSetup } from '../../helpers/dicom-decoder.ts';

const LIMITS = DICOM_TEST_LIMITS;
const { decoder, work } = await dicomDecoderSetup();

async function rejects(
  t: Test,
  bytes: Uint8Array,
  status: number,
  message: RegExp,
  options: RenderOptions = {},
  limits: InputLimits = LIMITS,
) {
  try {
    await decoder.renderDicom(bytes, options, limits);
    t.fail(`expected a ${status}`);
  } catch (error) {
    t.type(error, ServiceError);
    const e = error as ServiceError;
    t.equal(statusOf(e.code), status, e.message);
    t.match(e.message, message);
    // The decoder's own code, not patched on later: a client tells an image over the pixel limit from a body too large.
    if (status === 413) t.equal(e.code, 'image_too_large');
  }
}

const good = imageDicom(ct());
const multi = imageDicom({
  ...ct(
    [],
    Int16Array.from({ length: 3 * ROWS * COLUMNS }, (_, i) => ctValues()[i % (ROWS * COLUMNS)]!),
  ),
  frames: 3,
});
const textSr: Element[] = [
  [0x00080016, 'UI', '1.2.840.10008.5.1.4.1.1.88.11'],
  [0x00080060, 'CS', 'SR'],
  [0x0040a040, 'CS', 'CONTAINER'],
];

t.test('the sniffer recognises the Part 10 preamble only', (t) => {
  t.same(sniffImageFormat(good), { kind: 'dicom' });
  t.same(sniffImageFormat(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), { kind: 'supported', format: 'png' });
  t.same(sniffImageFormat(Buffer.alloc(10)), { kind: 'unknown' });
  t.end();
});

t.test('no pixel data (structured report): 422', (t) =>
  rejects(t, part10(textSr), 422, /no pixel data.*1\.2\.840\.10008\.5\.1\.4\.1\.1\.88\.11/),
);

t.test('truncated file: 422', (t) => rejects(t, good.subarray(0, good.length - 1000), 422, /truncated/));

t.test('truncated in the header: 422', (t) =>
  rejects(t, good.subarray(0, 300), 422, /malformed or truncated DICOM: an element is cut short/),
);

t.test('garbage after the preamble: 422', (t) => {
  const bytes = Buffer.concat([good.subarray(0, 132), Buffer.from(Array.from({ length: 400 }, (_, i) => (i * 97) % 256))]);
  return rejects(t, bytes, 422, /malformed|truncated/);
});

t.test('not DICOM at all: 422', (t) =>
  rejects(t, Buffer.from('this is plainly not a DICOM file, just text'), 422, /not a DICOM object|malformed/),
);

t.test('1-bit segmentation: 422', (t) => {
  const spec = { rows: 8, columns: 8, bitsAllocated: 8 as const, pixels: new Uint8Array(8) };
  const elements = imageElements(spec).map((e): Element =>
    e[0] === 0x00280100 ? [e[0], 'US', [1]] : e[0] === 0x00280101 ? [e[0], 'US', [1]] : e[0] === 0x00280102 ? [e[0], 'US', [0]] : e,
  );
  return rejects(t, part10(elements), 422, /1-bit/);
});

t.test('float pixel data: 422', (t) => {
  const elements = imageElements({ rows: 4, columns: 4, bitsAllocated: 32, pixels: new Uint8Array(64) }, false);
  return rejects(t, part10([...elements, [0x7fe00008, 'OF', new Uint8Array(64)]]), 422, /floating-point/);
});

t.test('video transfer syntax: 415', (t) =>
  rejects(
    t,
    part10(imageElements(ct(), false), { transferSyntax: '1.2.840.10008.1.2.4.102', pixelData: encapsulated([new Uint8Array(32)]) }),
    415,
    /video/,
  ),
);

t.test('HEVC: 415', (t) =>
  rejects(
    t,
    part10(imageElements(ct(), false), { transferSyntax: '1.2.840.10008.1.2.4.107', pixelData: encapsulated([new Uint8Array(32)]) }),
    415,
    /HEVC/,
  ),
);

t.test('unknown transfer syntax: 415 naming it', (t) =>
  rejects(t, part10(imageElements(ct()), { transferSyntax: '1.2.3.4.5' }), 415, /1\.2\.3\.4\.5 is not supported/),
);

t.test('rows x columns x frames over the cap: 413 before any pixel data is read', (t) => {
  // Claims 4096 x 4096 x 10 frames but carries a few bytes: a decoder that looked at pixels first would say 422.
  const elements = imageElements({ ...ct(), pixels: new Uint8Array(16) }).map((e): Element =>
    e[0] === 0x00280010 || e[0] === 0x00280011 ? [e[0], 'US', [4096]] : e,
  );
  return rejects(t, part10([...elements, [0x00280008, 'IS', '10']]), 413, /4096 x 4096 x 10/, { frame: 0 }, { imagePixels: 100_000_000 });
});

t.test('multi-frame without frame: 400 saying so', (t) => rejects(t, multi, 400, /3 frames: choose one with the frame parameter/));

t.test('frame out of range: 400', (t) => rejects(t, multi, 400, /frame 3 is out of range.*3 frame/, { frame: 3 }));

t.test('frame > 0 of a single-frame object: 400', (t) => rejects(t, good, 400, /out of range/, { frame: 1 }));

t.test('window width below 1: 400', (t) => rejects(t, good, 400, /window_width/, { windowCenter: 40, windowWidth: 0 }));

t.test('corrupt JPEG-LS codestream: 422 naming the codec, and the codec still works afterwards', async (t) => {
  await rejects(
    t,
    part10(imageElements(mono12(), false), {
      transferSyntax: '1.2.840.10008.1.2.4.80',
      pixelData: encapsulated([Buffer.from([0xff, 0xd8, 0xff, 0xf7, 1, 2, 3, 4])]),
    }),
    422,
    /DICOM frame 0 could not be decoded: the JPEG-LS codestream is corrupt or truncated \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.80, JPEG-LS Lossless\)/,
  );
  const jls = work.read(work.convert('dcmcjpls', [], work.write('mono12.dcm', imageDicom(mono12()))));
  // The codestream cut in half and re-encapsulated: the codec itself meets the truncation.
  const start = jls.indexOf(Buffer.from([0xff, 0xd8, 0xff, 0xf7]));
  const end = jls.lastIndexOf(Buffer.from([0xff, 0xd9])) + 2;
  t.ok(start > 0 && end > start, 'found the JPEG-LS codestream');
  const half = jls.subarray(start, start + Math.floor((end - start) / 2));
  const truncated = part10(imageElements(mono12(), false), { transferSyntax: '1.2.840.10008.1.2.4.80', pixelData: encapsulated([half]) });
  await rejects(
    t,
    truncated,
    422,
    /DICOM frame 0 could not be decoded: the JPEG-LS codestream is corrupt or truncated \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.80, JPEG-LS Lossless\)/,
  );
  // Then the intact file must still decode on the same pool.
  const image = await decoder.renderDicom(jls, {}, LIMITS);
  t.equal(image.record.transferSyntaxUid, '1.2.840.10008.1.2.4.80');
});

t.test('corrupt JPEG 2000 codestream: 422', (t) =>
  rejects(
    t,
    part10(imageElements(mono12(), false), {
      transferSyntax: '1.2.840.10008.1.2.4.90',
      pixelData: encapsulated([Buffer.from([0xff, 0x4f, 0xff, 0x51, 0, 0, 0])]),
    }),
    422,
    /the JPEG 2000 codestream is corrupt or truncated \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.90, JPEG 2000 Lossless\)/,
  ),
);

t.test('corrupt JPEG codestream: 422', (t) =>
  rejects(
    t,
    part10(imageElements(mono12(), false), {
      transferSyntax: '1.2.840.10008.1.2.4.57',
      pixelData: encapsulated([Buffer.from([0xff, 0xd8, 0xff, 0xd9])]),
    }),
    422,
    /the JPEG codestream is corrupt or truncated \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.57, JPEG Lossless \(Process 14\)\)/,
  ),
);

// What the codecs themselves say (`Jpeg2000Buffer::OpjMessageCallbackError::Invalid marker size`,
// `JpegDecoder8::ErrorExit::Invalid JPEG file structure: missing SOS marker`) names the library's insides.
const CODEC_TEXT = /::|Opj|OpenJPEG|Jpeg2000Buffer|JpegDecoder|JpegLs|CharLS|ErrorExit|Callback|marker|datastream|RuntimeError|aborted/i;
const corruptFrames: [syntax: string, codestream: string, frame: number[]][] = [
  ['1.2.840.10008.1.2.4.50', 'JPEG', [0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0, 48, 0, 64, 1, 1, 0x11, 0, 0xff, 0xd9]],
  ['1.2.840.10008.1.2.4.57', 'JPEG', [0xff, 0xd8, 0xff, 0xd9]],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS', [0xff, 0xd8, 0xff, 0xf7, 1, 2, 3, 4]],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000', [0xff, 0x4f, 0xff, 0x51, 0, 0, 0]],
  // A SIZ segment that agrees with Rows and Columns (48 x 64, one 12-bit component) and no COD: the codec's own check.
  [
    '1.2.840.10008.1.2.4.91',
    'JPEG 2000',
    [0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0, 0, 0, 0, 64, 0, 0, 0, 48, ...new Array<number>(8).fill(0), 0, 0, 0, 64, 0, 0, 0, 48].concat([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 11, 1, 1, 0xff, 0x90, 1, 2, 3,
    ]),
  ],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K', [0xff, 0x4f, 0xff, 0x51, 0, 0, 0]],
];

t.test("a corrupt compressed frame: 422 in the service's terms, without the codec's own text", async (t) => {
  for (const [syntax, codestream, frame] of corruptFrames) {
    const bytes = part10(imageElements(mono12(), false), { transferSyntax: syntax, pixelData: encapsulated([Buffer.from(frame)]) });
    const error = await decoder.renderDicom(bytes, {}, LIMITS).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.type(error, ServiceError, syntax);
    const { code, message } = error as ServiceError;
    t.equal(code, 'undecodable', syntax);
    const expected = `DICOM frame 0 could not be decoded: the ${codestream} codestream is corrupt or truncated (transfer syntax ${syntax}, `;
    t.ok(message.startsWith(expected), message);
    t.notMatch(message, CODEC_TEXT, `${syntax}: no codec text`);
  }
});

t.test('native syntax with encapsulated pixel data: 422', (t) =>
  rejects(t, part10(imageElements(mono12(), false), { pixelData: encapsulated([new Uint8Array(8)]) }), 422, /encapsulated/),
);

t.test('Bits Stored larger than Bits Allocated: 422', (t) =>
  rejects(t, imageDicom({ ...ct(), bitsStored: 20, highBit: 19 }), 422, /Bits Stored 20/),
);

t.test('after all of that the decoder still renders', async (t) => {
  const image = await decoder.renderDicom(good, {}, LIMITS);
  t.equal(image.data.length, ROWS * COLUMNS * 3);
  t.equal(bytesOf(new Uint8Array(image.data)).length, image.data.length);
});

t.test('window_center without window_width: 400', (t) => rejects(t, good, 400, /together/, { windowCenter: 40 }));

// --- numbers read from the header: every one is an integer in range, or a clean 4xx naming the attribute ---------

/** The CT fixture with one attribute replaced (or added). */
function ctWith(attribute: Element, base: Element[] = imageElements(ct())): Buffer {
  return part10([...base.filter((e) => e[0] !== attribute[0]), attribute]);
}

type Outcome = 'ok' | [status: 413 | 422, message: RegExp];
const SMALL = { imagePixels: 1_000_000 };
// A US attribute cannot hold a negative number: SS -1 is the bytes 0xFFFF, which a US reader sees as 65535.
const usAttributes: [name: string, tag: number, outcomes: Record<'text' | 'zero' | 'negative' | 'fraction' | 'huge', Outcome>][] = [
  [
    'Rows',
    0x00280010,
    {
      text: [422, /Rows \(0028,0010\) is not a binary US value/],
      zero: [422, /Rows \(0028,0010\) is 0, outside the range 1\.\.65535/],
      negative: [413, /65535 x 64 = 4194240 pixels per frame, over the limit of 1000000/],
      fraction: [422, /Rows \(0028,0010\) is not a binary US value/],
      huge: [413, /65535 x 64 = 4194240 pixels per frame/],
    },
  ],
  [
    'Columns',
    0x00280011,
    {
      text: [422, /Columns \(0028,0011\) is not a binary US value/],
      zero: [422, /Columns \(0028,0011\) is 0, outside the range 1\.\.65535/],
      negative: [413, /48 x 65535 = 3145680 pixels per frame/],
      fraction: [422, /Columns \(0028,0011\) is not a binary US value/],
      huge: [413, /48 x 65535 = 3145680 pixels per frame/],
    },
  ],
  [
    'Bits Allocated',
    0x00280100,
    {
      text: [422, /Bits Allocated \(0028,0100\) is not a binary US value/],
      zero: [422, /Bits Allocated \(0028,0100\) is 0, outside the range 1\.\.32/],
      negative: [422, /Bits Allocated \(0028,0100\) is 65535, outside the range 1\.\.32/],
      fraction: [422, /Bits Allocated \(0028,0100\) is not a binary US value/],
      huge: [422, /Bits Allocated \(0028,0100\) is 65535, outside/],
    },
  ],
  [
    'Bits Stored',
    0x00280101,
    {
      text: [422, /Bits Stored \(0028,0101\) is not a binary US value/],
      zero: [422, /Bits Stored \(0028,0101\) is 0, outside the range 1\.\.32/],
      negative: [422, /Bits Stored \(0028,0101\) is 65535, outside/],
      fraction: [422, /Bits Stored \(0028,0101\) is not a binary US value/],
      huge: [422, /Bits Stored \(0028,0101\) is 65535, outside/],
    },
  ],
  [
    'High Bit',
    0x00280102,
    {
      text: [422, /High Bit \(0028,0102\) is not a binary US value/],
      zero: [422, /Bits Stored 12 \/ High Bit 0 do not fit Bits Allocated 16/],
      negative: [422, /High Bit \(0028,0102\) is 65535, outside the range 0\.\.31/],
      fraction: [422, /High Bit \(0028,0102\) is not a binary US value/],
      huge: [422, /High Bit \(0028,0102\) is 65535, outside/],
    },
  ],
  [
    'Samples per Pixel',
    0x00280002,
    {
      text: [422, /Samples per Pixel \(0028,0002\) is not a binary US value/],
      zero: [422, /Samples per Pixel \(0028,0002\) is 0, outside the range 1\.\.3/],
      negative: [422, /Samples per Pixel \(0028,0002\) is 65535, outside/],
      fraction: [422, /Samples per Pixel \(0028,0002\) is not a binary US value/],
      huge: [422, /Samples per Pixel \(0028,0002\) is 65535, outside/],
    },
  ],
  [
    'Planar Configuration',
    0x00280006,
    {
      text: [422, /Planar Configuration \(0028,0006\) is not a binary US value/],
      zero: 'ok',
      negative: [422, /Planar Configuration \(0028,0006\) is 65535, outside the range 0\.\.1/],
      fraction: [422, /Planar Configuration \(0028,0006\) is not a binary US value/],
      huge: [422, /Planar Configuration \(0028,0006\) is 65535, outside/],
    },
  ],
  [
    'Pixel Representation',
    0x00280103,
    {
      text: [422, /Pixel Representation \(0028,0103\) is not a binary US value/],
      zero: 'ok',
      negative: [422, /Pixel Representation \(0028,0103\) is 65535, outside the range 0\.\.1/],
      fraction: [422, /Pixel Representation \(0028,0103\) is not a binary US value/],
      huge: [422, /Pixel Representation \(0028,0103\) is 65535, outside/],
    },
  ],
];

async function expectOutcome(t: Test, bytes: Uint8Array, outcome: Outcome, options: RenderOptions = {}) {
  if (outcome === 'ok') {
    const image = await decoder.renderDicom(bytes, options, SMALL);
    t.equal(image.data.length, ROWS * COLUMNS * 3, 'renders');
    return;
  }
  await rejects(t, bytes, outcome[0], outcome[1], options, SMALL);
}

t.test('US header attributes: missing, wrong VR, zero, "negative", non-integer and absurd values', async (t) => {
  for (const [name, tag, outcomes] of usAttributes) {
    const values: Record<keyof typeof outcomes, Element> = {
      text: [tag, 'IS', 'X'],
      zero: [tag, 'US', [0]],
      negative: [tag, 'SS', [-1]],
      fraction: [tag, 'DS', '1.5'],
      huge: [tag, 'US', [65535]],
    };
    for (const [which, element] of Object.entries(values) as [keyof typeof outcomes, Element][]) {
      await t.test(`${name} ${which}`, (t) => expectOutcome(t, ctWith(element), outcomes[which]));
    }
  }
  // The two the image cannot do without; the others have defaults.
  for (const [name, tag] of [
    ['Rows', 0x00280010],
    ['Columns', 0x00280011],
    ['Bits Allocated', 0x00280100],
  ] as const) {
    await t.test(`${name} missing`, (t) =>
      rejects(t, part10(imageElements(ct()).filter((e) => e[0] !== tag)), 422, new RegExp(`missing ${name}`)),
    );
  }
});

t.test('Number of Frames: not an integer, zero, negative, fractional or absurd is 422; a large count is 413', async (t) => {
  const cases: [value: string, outcome: Outcome][] = [
    ['X', [422, /Number of Frames \(0028,0008\) is not an integer/]],
    ['0', [422, /Number of Frames \(0028,0008\) is 0, outside the range 1\.\.2147483647/]],
    ['-3', [422, /Number of Frames \(0028,0008\) is -3, outside/]],
    ['1.5', [422, /Number of Frames \(0028,0008\) is not an integer/]],
    ['1e3', [422, /Number of Frames \(0028,0008\) is not an integer/]],
    ['99999999999', [422, /Number of Frames \(0028,0008\) is 99999999999, outside/]],
    ['2000000000', [413, /48 x 64 x 2000000000 frame\(s\)/]],
    [' 1 ', 'ok'],
  ];
  for (const [value, outcome] of cases) {
    await t.test(`"${value}"`, (t) => expectOutcome(t, ctWith([0x00280008, 'IS', value]), outcome, { frame: 0 }));
  }
  await t.test('binary instead of a string', (t) =>
    rejects(t, ctWith([0x00280008, 'US', [1]]), 422, /Number of Frames \(0028,0008\) is not an integer string/),
  );
});

t.test('4000 x 4000 with Number of Frames "X": 422, not a NaN past the pixel cap', (t) => {
  const elements = imageElements({ rows: 4000, columns: 4000, bitsAllocated: 8, pixels: new Uint8Array(4000 * 4000) });
  return rejects(t, part10([...elements, [0x00280008, 'IS', 'X']]), 422, /Number of Frames \(0028,0008\) is not an integer/, {}, SMALL);
});

t.test('rows x columns alone over the cap: 413 before decoding, naming one frame', (t) => {
  const elements = imageElements({ rows: 4000, columns: 4000, bitsAllocated: 8, pixels: new Uint8Array(16) });
  return rejects(t, part10(elements), 413, /4000 x 4000 = 16000000 pixels per frame, over the limit of 1000000/, {}, SMALL);
});

t.test('LUT Descriptor: too short, wrong VR, bits out of range: 422 naming it', async (t) => {
  const voi = (descriptor: Element) =>
    imageDicom(mono12([[0x00283010, 'SQ', [[descriptor, ...lutItem(4096, 0, (i) => i * 16, 'ramp').slice(1)]]]]));
  await t.test('two values', (t) =>
    rejects(t, voi([0x00283002, 'US', [4096, 0]]), 422, /VOI LUT Descriptor \(0028,3002\) is 4 bytes long, too short for 3 value/),
  );
  await t.test('as text', (t) =>
    rejects(t, voi([0x00283002, 'IS', '4096\\0\\16']), 422, /VOI LUT Descriptor \(0028,3002\) is not a binary US value/),
  );
  await t.test('0 bits', (t) =>
    rejects(t, voi([0x00283002, 'US', [4096, 0, 0]]), 422, /VOI LUT Descriptor \(0028,3002\) is 0, outside the range 1\.\.16/),
  );
  await t.test('17 bits', (t) =>
    rejects(t, voi([0x00283002, 'US', [4096, 0, 17]]), 422, /VOI LUT Descriptor \(0028,3002\) is 17, outside the range 1\.\.16/),
  );
  await t.test('more entries than data', (t) => rejects(t, voi([0x00283002, 'US', [8192, 0, 16]]), 422, /shorter than its descriptor/));
});

t.test('Rescale Slope/Intercept: not a decimal, or so large that pixel values stop being numbers: 422', async (t) => {
  const rescaled = (slope: string) => ctWith([0x00281053, 'DS', slope]);
  await t.test('X', (t) => rejects(t, rescaled('X'), 422, /Rescale Slope\/Intercept is not a number/));
  await t.test('1.5abc', (t) => rejects(t, rescaled('1.5abc'), 422, /Rescale Slope\/Intercept is not a number/));
  await t.test('1e308', (t) => rejects(t, rescaled('1e308'), 422, /beyond the range of numbers/));
  await t.test('1e-3 still renders', async (t) =>
    t.equal((await decoder.renderDicom(rescaled('1e-3'), {}, LIMITS)).record.window?.source, 'auto'),
  );
});

t.test('Window Center/Width that are not decimals are skipped for the automatic window, not half-read', async (t) => {
  for (const center of ['X', '40abc', '']) {
    const image = await decoder.renderDicom(
      imageDicom(
        ct([
          [0x00281050, 'DS', center],
          [0x00281051, 'DS', '400'],
        ]),
      ),
      {},
      LIMITS,
    );
    t.equal(image.record.window?.source, 'auto', `center "${center}"`);
  }
  const image = await decoder.renderDicom(
    imageDicom(
      ct([
        [0x00281050, 'DS', '40\\-600'],
        [0x00281051, 'DS', ' 400 \\1500'],
      ]),
    ),
    {},
    LIMITS,
  );
  t.match(image.record.window, { center: 40, width: 400, source: 'file' });
});

t.test('a transfer syntax UID naming an Object member is an unsupported syntax (415), not a lookup hit', async (t) => {
  for (const uid of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
    await t.test(uid, (t) => rejects(t, part10(imageElements(ct()), { transferSyntax: uid }), 415, new RegExp(`${uid} is not supported`)));
  }
});

t.test('a window preset naming an Object member: 400', (t) =>
  rejects(t, good, 400, /unknown window preset "__proto__"/, { window: '__proto__' as WindowPreset }),
);

t.test('basic offset table entries that match no fragment: 422', (t) => {
  const pixelData = encapsulated([new Uint8Array(64), new Uint8Array(64), new Uint8Array(64)]);
  pixelData.writeUInt32LE(999, 12 + 8 + 4); // the second frame's offset
  const elements = imageElements({ ...mono12(), frames: 3 }, false);
  return rejects(t, part10(elements, { transferSyntax: '1.2.840.10008.1.2.5', pixelData }), 422, /encapsulated pixel data is malformed/, {
    frame: 1,
  });
});

t.test('a Per-Frame Functional Groups Sequence shorter than the frames: the shared group applies', async (t) => {
  const values = Int16Array.from({ length: 3 * ROWS * COLUMNS }, (_, i) => ctValues()[i % (ROWS * COLUMNS)]!);
  const bytes = imageDicom({
    ...ct([], values),
    frames: 3,
    extra: [
      [
        0x52009229,
        'SQ',
        [
          [
            [
              0x00289132,
              'SQ',
              [
                [
                  [0x00281050, 'DS', '40'],
                  [0x00281051, 'DS', '400'],
                ],
              ],
            ],
          ],
        ],
      ],
      [0x52009230, 'SQ', [[]]],
    ],
  });
  const image = await decoder.renderDicom(bytes, { frame: 2 }, LIMITS);
  t.match(image.record.window, { center: 40, width: 400, source: 'file' });
});
