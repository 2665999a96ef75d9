// The pixel pipeline, rule by rule, on native (uncompressed) fixtures, against pydicom's independent rendering.
import t, { type Test } from 'tap';
import type { RenderedImage, RenderOptions } from '../../../src/inputs/dicom/index.ts';
import {
  ct,
  ctValues,
  lutItem,
  mono12,
  mono8,
  paletteElements,
  rgb,
  rgbValues,
  ROWS,
  COLUMNS,
  toPlanar,
  toYbr422,
  toYbrFull,
} from '../../fixtures/dicom/images.ts';
import { compare, reference, type ReferenceJob } from '../../fixtures/dicom/tools.ts';
import { bytesOf, imageDicom, PATIENT_ID, PATIENT_NAME, type ImageSpec } from '../../fixtures/dicom/writer.ts';
import { DICOM_TEST_LIMITS, dicomDecoderSetup } from '../../helpers/dicom-decoder.ts';

const LIMITS = DICOM_TEST_LIMITS;
const { decoder, work } = await dicomDecoderSetup();

interface Case {
  name: string;
  spec: ImageSpec;
  options?: RenderOptions;
  job?: Omit<ReferenceJob, 'path'>;
  /** pydicom renders this equivalent file instead (it does not read functional groups). */
  referenceSpec?: ImageSpec;
  source: 'request' | 'voi_lut' | 'file' | 'auto' | null;
  check?: (t: Test, image: RenderedImage) => void;
}

// Garbage above Bits Stored must be masked off before sign extension: set bits 12..15 to a pattern.
const dirty = Int16Array.from(ctValues(), (v, i) => (((v & 0x0fff) | ((i % 16) << 12)) << 16) >> 16);
const padded = Int16Array.from(ctValues(), (v, i) => (i % 7 === 0 ? -2000 : v));
// Soft tissue with ten outliers (0.3% of the pixels): the automatic window must ignore them.
const outliers = Int16Array.from({ length: ROWS * COLUMNS }, (_, i) => (i < 5 ? 2047 : i < 10 ? -2048 : 1064 + ((i * 7) % 120)));
const frames = [0, 1, 2].map((f) => ctValues(f));
const multiFrame = new Int16Array(frames.length * ROWS * COLUMNS);
frames.forEach((f, i) => multiFrame.set(f, i * ROWS * COLUMNS));

const cases: Case[] = [
  {
    name: 'signed CT with rescale, window from file',
    spec: ct([
      [0x00281050, 'DS', '40\\-600'],
      [0x00281051, 'DS', '400\\1500'],
    ]),
    source: 'file',
  },
  {
    name: 'bits above Bits Stored are masked and the sign extended',
    spec: ct(
      [
        [0x00281050, 'DS', '40'],
        [0x00281051, 'DS', '400'],
      ],
      dirty,
    ),
    source: 'file',
  },
  {
    name: 'window from the request wins over the file',
    spec: ct([
      [0x00281050, 'DS', '40'],
      [0x00281051, 'DS', '400'],
    ]),
    options: { windowCenter: 300, windowWidth: 800 },
    job: { window: { center: 300, width: 800 } },
    source: 'request',
  },
  {
    name: 'window preset ct-lung',
    spec: ct(),
    options: { window: 'ct-lung' },
    job: { window: { center: -600, width: 1500 } },
    source: 'request',
  },
  {
    name: 'window preset ct-bone',
    spec: ct(),
    options: { window: 'ct-bone' },
    job: { window: { center: 480, width: 2500 } },
    source: 'request',
  },
  { name: 'automatic percentile window', spec: ct(), job: { auto: true }, source: 'auto' },
  { name: 'automatic window ignores outliers', spec: ct([], outliers), job: { auto: true }, source: 'auto' },
  {
    name: 'automatic window ignores Pixel Padding Value',
    spec: ct([[0x00280120, 'SS', [-2000]]], padded),
    job: { auto: true },
    source: 'auto',
  },
  {
    name: 'VOI LUT Function LINEAR_EXACT',
    spec: ct([
      [0x00281050, 'DS', '100'],
      [0x00281051, 'DS', '300'],
      [0x00281056, 'CS', 'LINEAR_EXACT'],
    ]),
    source: 'file',
  },
  {
    name: 'VOI LUT Function SIGMOID',
    spec: ct([
      [0x00281050, 'DS', '60'],
      [0x00281051, 'DS', '200'],
      [0x00281056, 'CS', 'SIGMOID'],
    ]),
    source: 'file',
  },
  {
    name: 'VOI LUT Sequence wins over the file window',
    spec: mono12([
      [0x00281050, 'DS', '40'],
      [0x00281051, 'DS', '400'],
      [0x00283010, 'SQ', [lutItem(4096, 0, (i) => Math.round(65535 * Math.sqrt(i / 4095)), 'sqrt')]],
    ]),
    source: 'voi_lut',
  },
  {
    name: 'Modality LUT Sequence instead of rescale',
    spec: mono12([
      [0x00283000, 'SQ', [[...lutItem(4096, 0, (i) => (i * 3) % 4096, 'folded'), [0x00283004, 'LO', 'US']]]],
      [0x00281050, 'DS', '2048'],
      [0x00281051, 'DS', '4096'],
    ]),
    source: 'file',
  },
  {
    name: 'MONOCHROME1 is inverted',
    spec: mono8(
      [
        [0x00281050, 'DS', '128'],
        [0x00281051, 'DS', '200'],
      ],
      'MONOCHROME1',
    ),
    source: 'file',
    check: (t, i) => t.equal(i.record.inverted, true),
  },
  {
    name: 'MONOCHROME1 with Presentation LUT Shape INVERSE is inverted once',
    spec: mono8(
      [
        [0x00281050, 'DS', '128'],
        [0x00281051, 'DS', '200'],
        [0x20500020, 'CS', 'INVERSE'],
      ],
      'MONOCHROME1',
    ),
    source: 'file',
    check: (t, i) => t.ok(i.data[0]! > 200, 'value 0 renders near white, as one inversion gives'),
  },
  { name: 'MONOCHROME1 automatic window', spec: mono12([], 'MONOCHROME1'), job: { auto: true }, source: 'auto' },
  { name: 'RGB interleaved', spec: rgb(), source: null },
  { name: 'RGB planar configuration 1', spec: rgb([], toPlanar(rgbValues()), 'RGB', 1), source: null },
  { name: 'YBR_FULL', spec: rgb([], toYbrFull(rgbValues()), 'YBR_FULL'), source: null },
  { name: 'YBR_FULL planar', spec: rgb([], toPlanar(toYbrFull(rgbValues())), 'YBR_FULL', 1), source: null },
  { name: 'YBR_FULL_422', spec: rgb([], toYbr422(toYbrFull(rgbValues())), 'YBR_FULL_422'), source: null },
  { name: 'PALETTE COLOR', spec: { ...mono8(paletteElements(), 'PALETTE COLOR') }, source: null },
  {
    name: 'multi-frame, frame 2',
    spec: {
      ...ct(
        [
          [0x00281050, 'DS', '40'],
          [0x00281051, 'DS', '400'],
        ],
        multiFrame,
      ),
      frames: 3,
    },
    options: { frame: 2 },
    job: { frame: 2 },
    source: 'file',
    check: (t, i) => t.equal(i.record.frame, 2),
  },
  {
    name: 'enhanced multi-frame: rescale and window from the functional groups (per-frame over shared)',
    spec: {
      rows: ROWS,
      columns: COLUMNS,
      bitsAllocated: 16,
      bitsStored: 12,
      signed: true,
      modality: 'CT',
      frames: 3,
      pixels: bytesOf(multiFrame),
      extra: [
        [
          0x52009229,
          'SQ',
          [
            [
              [
                0x00289145,
                'SQ',
                [
                  [
                    [0x00281052, 'DS', '-1024'],
                    [0x00281053, 'DS', '1'],
                    [0x00281054, 'LO', 'HU'],
                  ],
                ],
              ],
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
        [
          0x52009230,
          'SQ',
          [
            [],
            [
              [
                0x00289132,
                'SQ',
                [
                  [
                    [0x00281050, 'DS', '-600'],
                    [0x00281051, 'DS', '1500'],
                  ],
                ],
              ],
            ],
            [],
          ],
        ],
      ],
    },
    referenceSpec: {
      ...ct(
        [
          [0x00281050, 'DS', '-600'],
          [0x00281051, 'DS', '1500'],
        ],
        multiFrame,
      ),
      frames: 3,
    },
    options: { frame: 1 },
    job: { frame: 1 },
    source: 'file',
    check: (t, i) => t.match(i.record.window, { center: -600, width: 1500 }),
  },
  {
    name: '32-bit unsigned with fractional rescale, automatic window',
    spec: {
      rows: ROWS,
      columns: COLUMNS,
      bitsAllocated: 32,
      bitsStored: 32,
      modality: 'RTDOSE',
      pixels: bytesOf(Uint32Array.from(ctValues(), (v, i) => (v + 1000) * 100000 + i)),
      extra: [
        [0x00281052, 'DS', '0'],
        [0x00281053, 'DS', '0.0001'],
      ],
    },
    job: { auto: true },
    source: 'auto',
  },
];

const paths = cases.map((c, i) => work.write(`case-${i}.dcm`, imageDicom(c.spec)));
const referencePaths = cases.map((c, i) => (c.referenceSpec ? work.write(`reference-${i}.dcm`, imageDicom(c.referenceSpec)) : paths[i]!));
const expected = reference(cases.map((c, i) => ({ path: referencePaths[i]!, ...c.job })));

for (const [i, c] of cases.entries()) {
  t.test(c.name, async (t) => {
    const image = await decoder.renderDicom(work.read(paths[i]!), c.options ?? {}, LIMITS);
    t.equal(image.width, COLUMNS);
    t.equal(image.height, ROWS);
    t.equal(image.data.length, ROWS * COLUMNS * 3);
    const { max, differing } = compare(image.data, expected[i]!);
    t.ok(max <= 1, `within 1 grey level of pydicom (max ${max}, ${differing} samples differ)`);
    t.equal(image.record.window?.source ?? null, c.source, 'window source');
    c.check?.(t, image);
  });
}

t.test('the record carries technical attributes only, never patient data', async (t) => {
  const image = await decoder.renderDicom(work.read(paths[0]!), {}, LIMITS);
  t.match(image.record, {
    modality: 'CT',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    photometricInterpretation: 'MONOCHROME2',
    frame: 0,
    window: { center: 40, width: 400, function: 'LINEAR', source: 'file' },
  });
  const text = JSON.stringify(image.record);
  t.notOk(text.includes(PATIENT_NAME.split('^')[0]!), 'no patient name');
  t.notOk(text.includes(PATIENT_ID), 'no patient id');
});

t.test('the automatic window spans the robust percentiles, not the extremes', async (t) => {
  const i = cases.findIndex((c) => c.name === 'automatic window ignores outliers');
  const image = await decoder.renderDicom(work.read(paths[i]!), {}, LIMITS);
  const w = image.record.window!;
  t.equal(w.function, 'LINEAR_EXACT');
  // Tissue spans 40..159 HU; the outliers at -3072 and 1023 HU would make the width 4095.
  t.ok(w.center! - w.width! / 2 >= 40 && w.center! + w.width! / 2 <= 159, `window ${w.center}/${w.width} stays inside the tissue range`);
  const hot = image.data[0]!;
  const cold = image.data[3 * 5]!;
  t.equal(hot, 255, 'hot outlier saturates');
  t.equal(cold, 0, 'cold outlier clips to black');
});

t.test('concurrent renders on the pool each get their own answer', async (t) => {
  const order = [0, 14, 19, 3, 16, 5];
  const images = await Promise.all(order.map((i) => decoder.renderDicom(work.read(paths[i]!), cases[i]!.options ?? {}, LIMITS)));
  images.forEach((image, k) => t.ok(compare(image.data, expected[order[k]!]!).max <= 1, `case ${cases[order[k]!]!.name}`));
});
