// Every supported transfer syntax, produced by an independent encoder (dcmtk, GDCM, OpenJPH), decoded by the
// service and compared with pydicom's rendering of the uncompressed original (lossless syntaxes) or of dcmtk's
// own decompression (lossy syntaxes).
import t from 'tap';
import type { RenderOptions } from '../../../src/inputs/dicom/index.ts';
import { ct, lutItem, mono12, mono12Values, mono8, rgb, rgbValues, ROWS, COLUMNS, toYbrFull } from '../../fixtures/dicom/images.ts';
import { compare, dcmtkTransferSyntax, htj2k, reference, type ReferenceJob } from '../../fixtures/dicom/tools.ts';
import { bytesOf, encapsulated, imageDicom, imageElements, part10 } from '../../fixtures/dicom/writer.ts';
import { DICOM_TEST_LIMITS, dicomDecoderSetup } from '../../helpers/dicom-decoder.ts';

const LIMITS = DICOM_TEST_LIMITS;
const { decoder, work } = await dicomDecoderSetup();

const windowed: [number, string, string][] = [
  [0x00281050, 'DS', '40'],
  [0x00281051, 'DS', '400'],
];
const sources = {
  ct: work.write('ct.dcm', imageDicom(ct(windowed))),
  mono12: work.write(
    'mono12.dcm',
    imageDicom(
      mono12([
        [0x00281050, 'DS', '2000'],
        [0x00281051, 'DS', '3000'],
      ]),
    ),
  ),
  mono8: work.write('mono8.dcm', imageDicom(mono8())),
  rgb: work.write('rgb.dcm', imageDicom(rgb())),
  ybr: work.write('ybr.dcm', imageDicom(rgb([], toYbrFull(rgbValues()), 'YBR_FULL'))),
  // Sequences and OW LUT data must survive implicit VR (no VRs on the wire) and byte swapping.
  luts: work.write(
    'luts.dcm',
    imageDicom(
      mono12([
        [0x00283000, 'SQ', [[...lutItem(4096, 0, (i) => (i * 3) % 4096, 'folded'), [0x00283004, 'LO', 'US']]]],
        [0x00283010, 'SQ', [lutItem(4096, 0, (i) => Math.round(65535 * Math.sqrt(i / 4095)), 'sqrt')]],
      ]),
    ),
  ),
};

// HTJ2K: no DICOM tool writes it here, so wrap OpenJPH's codestream ourselves (one frame, then two frames with and
// without a basic offset table).
const htSpecOf = () =>
  mono12([
    [0x00281050, 'DS', '2000'],
    [0x00281051, 'DS', '3000'],
  ]);
const htSpec = htSpecOf();
const htStream = htj2k(work, mono12Values(), ROWS, COLUMNS, 12);
const inverted = Uint16Array.from(mono12Values(), (v) => 4095 - v);
const htStreamInverted = htj2k(work, inverted, ROWS, COLUMNS, 12);
const twoFrames = new Uint16Array(2 * ROWS * COLUMNS);
twoFrames.set(mono12Values());
twoFrames.set(inverted, ROWS * COLUMNS);
const twoFrameSource = work.write('mono12-2.dcm', imageDicom({ ...htSpecOf(), frames: 2, pixels: bytesOf(twoFrames) }));
const HTJ2K = '1.2.840.10008.1.2.4.201';
const htFile = work.write('ht.dcm', part10(imageElements(htSpec, false), { transferSyntax: HTJ2K, pixelData: encapsulated([htStream]) }));
const ht2 = (offsets: boolean) =>
  work.write(
    `ht2-${offsets}.dcm`,
    part10(imageElements({ ...htSpec, frames: 2 }, false), {
      transferSyntax: HTJ2K,
      pixelData: encapsulated([htStream, htStreamInverted], offsets),
    }),
  );

interface Case {
  name: string;
  file: string;
  syntax: string;
  /** The uncompressed file whose pydicom rendering the result must match. */
  reference: string;
  options?: RenderOptions;
  job?: Omit<ReferenceJob, 'path'>;
  /** The photometric interpretation the encoder wrote, where it is the point of the case. */
  photometric?: string;
}

const lossy = (file: string, tool: string) => work.convert(tool, [], file);
const jpegBaseline = work.convert('dcmcjpeg', ['+eb'], sources.mono8);
const jpegBaselineRgb = work.convert('dcmcjpeg', ['+eb'], sources.rgb);
const jpegExtended = work.convert('dcmcjpeg', ['+ee'], sources.mono12);
const jlsNear = work.convert('dcmcjpls', ['+en', '+md', '2'], sources.mono12);

const cases: Case[] = [
  {
    name: 'implicit VR little endian',
    file: work.convert('dcmconv', ['+ti'], sources.ct),
    syntax: '1.2.840.10008.1.2',
    reference: sources.ct,
  },
  {
    name: 'bare implicit VR data set (no preamble, no meta header)',
    file: work.convert('dcmconv', ['-F', '+ti'], sources.ct),
    syntax: '1.2.840.10008.1.2',
    reference: sources.ct,
  },
  {
    name: 'implicit VR with Modality and VOI LUT Sequences',
    file: work.convert('dcmconv', ['+ti'], sources.luts),
    syntax: '1.2.840.10008.1.2',
    reference: sources.luts,
  },
  {
    name: 'big endian with Modality and VOI LUT Sequences',
    file: work.convert('dcmconv', ['+tb'], sources.luts),
    syntax: '1.2.840.10008.1.2.2',
    reference: sources.luts,
  },
  { name: 'explicit VR little endian', file: sources.ct, syntax: '1.2.840.10008.1.2.1', reference: sources.ct },
  {
    name: 'explicit VR big endian, 16-bit',
    file: work.convert('dcmconv', ['+tb'], sources.ct),
    syntax: '1.2.840.10008.1.2.2',
    reference: sources.ct,
  },
  {
    name: 'explicit VR big endian, 8-bit',
    file: work.convert('dcmconv', ['+tb'], sources.mono8),
    syntax: '1.2.840.10008.1.2.2',
    reference: sources.mono8,
    job: { auto: true },
  },
  {
    name: 'explicit VR big endian, RGB',
    file: work.convert('dcmconv', ['+tb'], sources.rgb),
    syntax: '1.2.840.10008.1.2.2',
    reference: sources.rgb,
  },
  {
    name: 'deflated explicit VR little endian',
    file: work.convert('dcmconv', ['+td'], sources.ct),
    syntax: '1.2.840.10008.1.2.1.99',
    reference: sources.ct,
  },
  {
    name: 'RLE lossless, signed 16-bit',
    file: work.convert('dcmcrle', [], sources.ct),
    syntax: '1.2.840.10008.1.2.5',
    reference: sources.ct,
  },
  { name: 'RLE lossless, RGB', file: work.convert('dcmcrle', [], sources.rgb), syntax: '1.2.840.10008.1.2.5', reference: sources.rgb },
  { name: 'RLE lossless, YBR_FULL', file: work.convert('dcmcrle', [], sources.ybr), syntax: '1.2.840.10008.1.2.5', reference: sources.ybr },
  {
    name: 'JPEG baseline, 8-bit grey',
    file: jpegBaseline,
    syntax: '1.2.840.10008.1.2.4.50',
    reference: lossy(jpegBaseline, 'dcmdjpeg'),
    job: { auto: true },
  },
  {
    name: 'JPEG baseline, colour (YBR_FULL_422)',
    file: jpegBaselineRgb,
    syntax: '1.2.840.10008.1.2.4.50',
    reference: lossy(jpegBaselineRgb, 'dcmdjpeg'),
    photometric: 'YBR_FULL_422',
  },
  { name: 'JPEG extended, 12-bit', file: jpegExtended, syntax: '1.2.840.10008.1.2.4.51', reference: lossy(jpegExtended, 'dcmdjpeg') },
  {
    name: 'JPEG lossless process 14',
    file: work.convert('dcmcjpeg', ['+el'], sources.ct),
    syntax: '1.2.840.10008.1.2.4.57',
    reference: sources.ct,
  },
  {
    name: 'JPEG lossless process 14 SV1',
    file: work.convert('dcmcjpeg', ['+e1'], sources.ct),
    syntax: '1.2.840.10008.1.2.4.70',
    reference: sources.ct,
  },
  {
    name: 'JPEG lossless SV1, RGB',
    file: work.convert('dcmcjpeg', ['+e1'], sources.rgb),
    syntax: '1.2.840.10008.1.2.4.70',
    reference: sources.rgb,
  },
  { name: 'JPEG-LS lossless', file: work.convert('dcmcjpls', [], sources.ct), syntax: '1.2.840.10008.1.2.4.80', reference: sources.ct },
  {
    name: 'JPEG-LS lossless, RGB',
    file: work.convert('dcmcjpls', [], sources.rgb),
    syntax: '1.2.840.10008.1.2.4.80',
    reference: sources.rgb,
  },
  { name: 'JPEG-LS near-lossless', file: jlsNear, syntax: '1.2.840.10008.1.2.4.81', reference: lossy(jlsNear, 'dcmdjpls') },
  {
    name: 'JPEG 2000 lossless',
    file: work.convert('gdcmconv', ['--j2k'], sources.ct),
    syntax: '1.2.840.10008.1.2.4.90',
    reference: sources.ct,
  },
  {
    name: 'JPEG 2000 lossless, RGB',
    file: work.convert('gdcmconv', ['--j2k'], sources.rgb),
    syntax: '1.2.840.10008.1.2.4.90',
    reference: sources.rgb,
  },
  { name: 'HTJ2K lossless', file: htFile, syntax: HTJ2K, reference: sources.mono12 },
  {
    name: 'HTJ2K two frames with basic offset table, frame 1',
    file: ht2(true),
    syntax: HTJ2K,
    reference: twoFrameSource,
    options: { frame: 1 },
    job: { frame: 1 },
  },
  {
    name: 'HTJ2K two frames, one fragment each, no offset table',
    file: ht2(false),
    syntax: HTJ2K,
    reference: twoFrameSource,
    options: { frame: 1 },
    job: { frame: 1 },
  },
];

const expected = reference(cases.map((c) => ({ path: c.reference, ...c.job })));

for (const [i, c] of cases.entries()) {
  t.test(c.name, async (t) => {
    const image = await decoder.renderDicom(work.read(c.file), c.options ?? {}, LIMITS);
    t.equal(image.record.transferSyntaxUid, c.syntax, 'the encoder wrote the syntax under test');
    t.equal(image.width, COLUMNS);
    t.equal(image.height, ROWS);
    const { max, differing } = compare(image.data, expected[i]!);
    t.ok(max <= 1, `within 1 grey level of the reference (max ${max}, ${differing} samples differ)`);
    if (c.photometric) t.equal(image.record.photometricInterpretation, c.photometric);
  });
}

t.test('lossy fixtures really are lossy, so the lossy comparisons mean something', async (t) => {
  t.match(dcmtkTransferSyntax(jpegExtended), /=JPEGExtended/, 'dcmtk reads the JPEG extended syntax');
  const original = reference([{ path: sources.mono12 }])[0]!;
  const image = await decoder.renderDicom(work.read(jpegExtended), {}, LIMITS);
  t.ok(compare(image.data, original).differing > 0, 'JPEG extended differs from the original somewhere');
});
