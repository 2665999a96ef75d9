/**
 * What a DICOM object is, checked before any pixel is decoded: an image this service can render, in a supported
 * transfer syntax, within the pixel limit, with the requested frame; and where that frame's bytes are.
 */
import type { DataSet } from 'dicom-parser';
import { badRequest, inField, undecodable } from '../../errors.ts';
import { hasPart10Preamble } from '../format.ts';
import { imageTooLarge, type InputLimits } from '../limits.ts';
import { readInteger, requireInteger, type IntegerSpec } from './attributes.ts';
import { IMPLICIT_LITTLE_ENDIAN, parseDataSet } from './dataset.ts';
import { frameBytes } from './frames.ts';
import { firstItem, functionalGroups, readLut, rescaleOf, usOrSs, windowOf, type Lut, type WindowAttributes } from './lut-attributes.ts';
import { transferSyntax, type PixelEncoding } from './transfer-syntax.ts';

export type { Lut } from './lut-attributes.ts';

/**
 * Everything the pixel pipeline needs from a DICOM object, and nothing more: patient, study and institution
 * attributes are never read out of the data set, so they cannot leak through this module.
 */
export interface ImageDescription {
  transferSyntaxUid: string;
  encoding: PixelEncoding;
  modality: string | null;
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
  planarConfiguration: number;
  photometric: string;
  numberOfFrames: number;
  frame: number;
  rescale: { slope: number; intercept: number } | null;
  modalityLut: Lut | null;
  voiLut: Lut | null;
  window: WindowAttributes | null;
  padding: { low: number; high: number } | null;
  presentationLutShape: string | null;
  palette: { red: Lut; green: Lut; blue: Lut } | null;
  /** The encoded or native bytes of the requested frame, as stored (big endian not yet swapped). */
  frameBytes: Uint8Array;
  pixelVr: string | undefined;
  /** Bytes of the data set as parsed: for a deflated transfer syntax, inflated. */
  datasetBytes: number;
}

/** The header's integers and the values the pipeline accepts for each (PS3.3 C.7.6.3); checked as they are read. */
const ATTRIBUTES = {
  rows: { tag: 'x00280010', name: 'Rows', vr: 'US', min: 1, max: 0xffff },
  columns: { tag: 'x00280011', name: 'Columns', vr: 'US', min: 1, max: 0xffff },
  samplesPerPixel: { tag: 'x00280002', name: 'Samples per Pixel', vr: 'US', min: 1, max: 3 },
  bitsAllocated: { tag: 'x00280100', name: 'Bits Allocated', vr: 'US', min: 1, max: 32 },
  bitsStored: { tag: 'x00280101', name: 'Bits Stored', vr: 'US', min: 1, max: 32 },
  highBit: { tag: 'x00280102', name: 'High Bit', vr: 'US', min: 0, max: 31 },
  pixelRepresentation: { tag: 'x00280103', name: 'Pixel Representation', vr: 'US', min: 0, max: 1 },
  planarConfiguration: { tag: 'x00280006', name: 'Planar Configuration', vr: 'US', min: 0, max: 1 },
  numberOfFrames: { tag: 'x00280008', name: 'Number of Frames', vr: 'IS', min: 1, max: 2 ** 31 - 1 },
} as const satisfies Record<string, IntegerSpec & { tag: string }>;

function attribute(ds: DataSet, which: keyof typeof ATTRIBUTES): number | undefined {
  return readInteger(ds, ATTRIBUTES[which].tag, ATTRIBUTES[which]);
}

function requiredAttribute(ds: DataSet, which: keyof typeof ATTRIBUTES): number {
  return requireInteger(ds, ATTRIBUTES[which].tag, ATTRIBUTES[which]);
}

const SUBSAMPLED_422 = new Set(['YBR_FULL_422', 'YBR_PARTIAL_422']);
const RENDERABLE = new Set([
  'MONOCHROME1',
  'MONOCHROME2',
  'RGB',
  'PALETTE COLOR',
  'YBR_FULL',
  'YBR_FULL_422',
  'YBR_PARTIAL_422',
  'YBR_PARTIAL_420',
  'YBR_ICT',
  'YBR_RCT',
]);

/**
 * Parses a DICOM object and checks, in this order, that it is an image this service can render, that its
 * transfer syntax is supported, that it is within the size limits, and that the requested frame exists; only
 * then does it locate that frame's bytes (without decoding them).
 */
export function describe(bytes: Uint8Array, requestedFrame: number | undefined, limits: InputLimits): ImageDescription {
  // An inflated data set within the limits holds at most imagePixels x 6 bytes (16-bit RGB or 32-bit grey, the
  // widest renderable pixels) plus attributes, and no more than one image's decode may (MAX_IMAGE_BYTES); anything
  // larger is refused while inflating.
  const ds = parseDataSet(bytes, Math.min(2 ** 31 - 1, limits.imagePixels * 6 + 16 * 1024 * 1024, limits.imageBytes ?? Infinity));
  const transferSyntaxUid = (ds.string('x00020010') ?? IMPLICIT_LITTLE_ENDIAN).replace(/\0/g, '').trim();
  const modality = ds.string('x00080060')?.trim() || null;

  const pixel = ds.elements.x7fe00010;
  if (!pixel) {
    if (ds.elements.x7fe00008 || ds.elements.x7fe00009) {
      throw undecodable('DICOM object holds floating-point pixel data, which cannot be rendered as an image');
    }
    const sopClass = ds.string('x00080016')?.trim();
    if (!hasPart10Preamble(bytes) && !sopClass && !ds.elements.x00280010) {
      throw undecodable('not a DICOM object: no DICM preamble and no recognisable data set');
    }
    throw undecodable(
      `DICOM object has no pixel data (SOP class ${sopClass ?? 'unknown'}${modality ? `, modality ${modality}` : ''}): ` +
        'structured reports, RT plans, waveforms and other non-image objects cannot be classified',
    );
  }
  const syntax = transferSyntax(transferSyntaxUid);

  const rows = requiredAttribute(ds, 'rows');
  const columns = requiredAttribute(ds, 'columns');
  const samplesPerPixel = attribute(ds, 'samplesPerPixel') ?? 1;
  const bitsAllocated = requiredAttribute(ds, 'bitsAllocated');
  const bitsStored = attribute(ds, 'bitsStored') ?? bitsAllocated;
  const highBit = attribute(ds, 'highBit') ?? bitsStored - 1;
  const signed = attribute(ds, 'pixelRepresentation') === 1;
  const planarConfiguration = attribute(ds, 'planarConfiguration') ?? 0;
  const photometric = (ds.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim().toUpperCase();
  const numberOfFrames = attribute(ds, 'numberOfFrames') ?? 1;

  if (bitsAllocated === 1) {
    throw undecodable('DICOM pixel data is 1-bit (a binary segmentation or overlay), which cannot be rendered as an image');
  }
  if (![8, 16, 32].includes(bitsAllocated)) throw undecodable(`DICOM Bits Allocated ${bitsAllocated} is not 8, 16 or 32`);
  if (bitsStored < 1 || bitsStored > bitsAllocated || highBit >= bitsAllocated || highBit + 1 < bitsStored) {
    throw undecodable(`DICOM Bits Stored ${bitsStored} / High Bit ${highBit} do not fit Bits Allocated ${bitsAllocated}`);
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw undecodable(`DICOM Samples per Pixel ${samplesPerPixel} is not 1 or 3`);
  if (!RENDERABLE.has(photometric)) throw undecodable(`DICOM Photometric Interpretation ${photometric} cannot be rendered`);
  if ((samplesPerPixel === 1) !== (photometric.startsWith('MONOCHROME') || photometric === 'PALETTE COLOR')) {
    throw undecodable(`DICOM Photometric Interpretation ${photometric} does not match Samples per Pixel ${samplesPerPixel}`);
  }

  // Rows x columns alone first: one frame over the cap is refused whatever the frame count says.
  if (rows * columns > limits.imagePixels) {
    throw imageTooLarge(
      `DICOM image is ${rows} x ${columns} = ${rows * columns} pixels per frame, over the limit of ${limits.imagePixels}`,
    );
  }
  const total = rows * columns * numberOfFrames;
  if (total > limits.imagePixels) {
    throw imageTooLarge(
      `DICOM object has ${rows} x ${columns} x ${numberOfFrames} frame(s) = ${total} pixels, over the limit of ${limits.imagePixels}`,
    );
  }
  if (requestedFrame === undefined && numberOfFrames > 1) {
    throw inField('frame', badRequest(`DICOM object has ${numberOfFrames} frames: choose one with the frame parameter (0-based)`));
  }
  const frame = requestedFrame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= numberOfFrames) {
    throw inField('frame', badRequest(`frame ${frame} is out of range: this DICOM object has ${numberOfFrames} frame(s), numbered from 0`));
  }

  const bytesPerSample = bitsAllocated / 8;
  const samplesPerFrame = SUBSAMPLED_422.has(photometric) && syntax.encoding.kind === 'native' ? 2 : samplesPerPixel;
  const nativeFrameBytes = rows * columns * samplesPerFrame * bytesPerSample;

  const groups = functionalGroups(ds, frame);
  const pixelTransform = groups.map((g) => firstItem(g, 'x00289145'));
  const frameVoi = groups.map((g) => firstItem(g, 'x00289132'));
  const modalityItem = firstItem(ds, 'x00283000');
  const voiItem = firstItem(ds, 'x00283010');
  const paddingValue = usOrSs(ds, 'x00280120', 'Pixel Padding Value', signed);
  const paddingLimit = usOrSs(ds, 'x00280121', 'Pixel Padding Range Limit', signed);

  const description: ImageDescription = {
    transferSyntaxUid,
    encoding: syntax.encoding,
    modality,
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit,
    signed,
    planarConfiguration,
    photometric,
    numberOfFrames,
    frame,
    rescale: rescaleOf(ds) ?? rescaleOf(pixelTransform[0]) ?? rescaleOf(pixelTransform[1]),
    modalityLut: modalityItem ? readLut(modalityItem, 'x00283002', 'x00283006', signed, 'Modality LUT') : null,
    voiLut: voiItem ? readLut(voiItem, 'x00283002', 'x00283006', false, 'VOI LUT') : null,
    window: windowOf(ds) ?? windowOf(frameVoi[0]) ?? windowOf(frameVoi[1]),
    padding:
      paddingValue === undefined
        ? null
        : { low: Math.min(paddingValue, paddingLimit ?? paddingValue), high: Math.max(paddingValue, paddingLimit ?? paddingValue) },
    presentationLutShape: ds.string('x20500020')?.trim().toUpperCase() ?? null,
    palette: null,
    frameBytes: frameBytes(ds, pixel, { encoding: syntax.encoding, numberOfFrames, frame, nativeFrameBytes }),
    pixelVr: pixel.vr,
    datasetBytes: ds.byteArray.length,
  };
  if (photometric === 'PALETTE COLOR') {
    if (ds.elements.x00281221 || ds.elements.x00281222 || ds.elements.x00281223) {
      throw undecodable('DICOM segmented palette colour lookup tables are not supported');
    }
    description.palette = {
      red: readLut(ds, 'x00281101', 'x00281201', signed, 'Red Palette Color LUT'),
      green: readLut(ds, 'x00281102', 'x00281202', signed, 'Green Palette Color LUT'),
      blue: readLut(ds, 'x00281103', 'x00281203', signed, 'Blue Palette Color LUT'),
    };
  }
  return description;
}
