import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { badRequest, tooLarge, undecodable } from '../../errors.ts';
import { readDecimal, readInteger, requireInteger, type IntegerSpec } from './attributes.ts';
import { transferSyntax, type PixelEncoding } from './transfer-syntax.ts';
import type { DecodeLimits } from './types.ts';

/** A lookup table as DICOM describes one: entries map inputs firstMapped.. to data[0..]; out-of-range inputs clamp. */
export interface Lut {
  firstMapped: number;
  bits: number;
  data: Uint16Array;
}

export interface WindowAttributes {
  center: number;
  width: number;
  function: string;
}

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
}

const SEQUENCE_TAGS = new Set([
  'x00283000', // Modality LUT Sequence
  'x00283010', // VOI LUT Sequence
  'x52009229', // Shared Functional Groups Sequence
  'x52009230', // Per-Frame Functional Groups Sequence
  'x00289145', // Pixel Value Transformation Sequence
  'x00289132', // Frame VOI LUT Sequence
]);
const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';

function message(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  // dicom-parser throws { exception, dataSet } when it fails part-way through a data set.
  if (typeof error === 'object' && error !== null && 'exception' in error) return message(error.exception);
  return 'unknown parse error';
}

export function hasPart10Preamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

function parse(bytes: Uint8Array, maxInflatedBytes: number): DataSet {
  const options: dicomParser.ParseDicomOptions = {
    // Implicit VR data sets carry no VRs: name the sequences the pipeline reads rather than rely on the parser
    // sniffing item tags (the typings say vrCallback returns void, but the parser uses the VR it returns).
    vrCallback: (tag: string) => (SEQUENCE_TAGS.has(tag) ? 'SQ' : undefined),
    inflater: (array: Uint8Array, position: number) => {
      let inflated: Buffer;
      try {
        // Bounded so a deflate bomb fails here instead of exhausting memory.
        inflated = inflateRawSync(array.subarray(position), { maxOutputLength: maxInflatedBytes });
      } catch (error) {
        throw undecodable(`deflated DICOM data set cannot be inflated: ${message(error)}`);
      }
      const whole = Buffer.allocUnsafe(position + inflated.length);
      whole.set(array.subarray(0, position), 0);
      whole.set(inflated, position);
      return whole;
    },
  };
  if (!hasPart10Preamble(bytes)) {
    // A bare data set (no preamble or meta header) is legal on the wire and is implicit VR little endian.
    options.TransferSyntaxUID = IMPLICIT_LITTLE_ENDIAN;
  }
  try {
    return dicomParser.parseDicom(bytes, options);
  } catch (error) {
    if (error instanceof Error && 'statusCode' in error) throw error;
    throw undecodable(`malformed or truncated DICOM: ${message(error)}`);
  }
}

/** The header's integers and the values the pipeline accepts for each (PS3.3 C.7.6.3); checked as they are read. */
const US_ANY = { vr: 'US', min: 0, max: 0xffff } as const;
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

/** A US-or-SS value read without knowing its VR (implicit VR): reinterpret as signed when the pixels are signed. */
function usOrSs(ds: DataSet, tag: string, name: string, signed: boolean, index = 0): number | undefined {
  return readInteger(ds, tag, signed ? { name, vr: 'SS', min: -0x8000, max: 0x7fff, index } : { ...US_ANY, name, index });
}

function readLut(ds: DataSet, descriptorTag: string, dataTag: string, signedInput: boolean, what: string): Lut {
  const data = ds.elements[dataTag];
  const descriptor = `${what} Descriptor`;
  // Entries and bits are unsigned whatever the descriptor's VR; only the first mapped value follows the pixels.
  const count = readInteger(ds, descriptorTag, { ...US_ANY, name: descriptor });
  const first = usOrSs(ds, descriptorTag, descriptor, signedInput, 1);
  const bits = readInteger(ds, descriptorTag, { name: descriptor, vr: 'US', min: 1, max: 16, index: 2 });
  if (!data || count === undefined || first === undefined || bits === undefined) {
    throw undecodable(`DICOM ${what} has no usable LUT Descriptor/LUT Data`);
  }
  const entries = count === 0 ? 65536 : count;
  const out = new Uint16Array(entries);
  if (bits <= 8 && data.length === entries) {
    // 8-bit entries packed one per byte (OB-like); otherwise entries occupy 16-bit words.
    for (let i = 0; i < entries; i++) out[i] = ds.byteArray[data.dataOffset + i] ?? 0;
  } else {
    if (data.length < entries * 2) throw undecodable(`DICOM ${what} LUT Data is shorter than its descriptor says`);
    for (let i = 0; i < entries; i++) out[i] = ds.byteArrayParser.readUint16(ds.byteArray, data.dataOffset + 2 * i);
  }
  return { firstMapped: first, bits, data: out };
}

function firstItem(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

function rescaleOf(ds: DataSet | undefined): { slope: number; intercept: number } | null {
  if (!ds) return null;
  const slope = readDecimal(ds, 'x00281053');
  const intercept = readDecimal(ds, 'x00281052');
  if (slope === undefined && intercept === undefined) return null;
  const s = slope ?? 1;
  const b = intercept ?? 0;
  if (!Number.isFinite(s) || !Number.isFinite(b)) throw undecodable('DICOM Rescale Slope/Intercept is not a number');
  // Stored values reach 2^32: beyond this bound modality values, and the windows made of them, stop being finite.
  if (Math.abs(s) * 2 ** 32 + Math.abs(b) > Number.MAX_VALUE / 4) {
    throw undecodable('DICOM Rescale Slope/Intercept take pixel values beyond the range of numbers');
  }
  return { slope: s, intercept: b };
}

function windowOf(ds: DataSet | undefined): WindowAttributes | null {
  if (!ds) return null;
  // An unusable window (missing, not a number, width too small) is skipped: the next in the order applies.
  const center = readDecimal(ds, 'x00281050', 0);
  const width = readDecimal(ds, 'x00281051', 0);
  if (center === undefined || width === undefined || !Number.isFinite(center) || !Number.isFinite(width)) return null;
  const fn = (ds.string('x00281056') ?? 'LINEAR').toUpperCase();
  return { center, width, function: fn };
}

/** Frames carry their own transforms in enhanced objects: per-frame group first, then the shared group. */
function functionalGroups(ds: DataSet, frame: number): (DataSet | undefined)[] {
  return [firstItem(ds, 'x52009230', frame), firstItem(ds, 'x52009229')];
}

function frameBytes(ds: DataSet, pixel: Element, d: { encoding: PixelEncoding; numberOfFrames: number; frame: number; nativeFrameBytes: number }): Uint8Array {
  if (d.encoding.kind === 'native') {
    if (pixel.encapsulatedPixelData) throw undecodable('DICOM pixel data is encapsulated but the transfer syntax is native');
    const start = pixel.dataOffset + d.frame * d.nativeFrameBytes;
    const available = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
    if ((d.frame + 1) * d.nativeFrameBytes > available) {
      throw undecodable(
        `DICOM pixel data is truncated: ${available} bytes present, frame ${d.frame} needs bytes up to ${(d.frame + 1) * d.nativeFrameBytes}`,
      );
    }
    return ds.byteArray.subarray(start, start + d.nativeFrameBytes);
  }
  const fragments = pixel.fragments;
  if (!pixel.encapsulatedPixelData || !fragments || fragments.length === 0) {
    throw undecodable('DICOM pixel data should be encapsulated (compressed) for this transfer syntax but is not');
  }
  try {
    if (d.numberOfFrames === 1) {
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length);
    }
    if (pixel.basicOffsetTable && pixel.basicOffsetTable.length === d.numberOfFrames) {
      return dicomParser.readEncapsulatedImageFrame(ds, pixel, d.frame);
    }
    if (fragments.length === d.numberOfFrames) {
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, d.frame, 1);
    }
  } catch (error) {
    throw undecodable(`DICOM encapsulated pixel data is malformed: ${message(error)}`);
  }
  throw undecodable(
    `DICOM encapsulated pixel data has ${fragments.length} fragments for ${d.numberOfFrames} frames and no offset table to split them`,
  );
}

const SUBSAMPLED_422 = new Set(['YBR_FULL_422', 'YBR_PARTIAL_422']);
const RENDERABLE = new Set([
  'MONOCHROME1', 'MONOCHROME2', 'RGB', 'PALETTE COLOR', 'YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_422', 'YBR_PARTIAL_420', 'YBR_ICT', 'YBR_RCT',
]);

/**
 * Parses a DICOM object and checks, in this order, that it is an image this service can render, that its
 * transfer syntax is supported, that it is within the size limits, and that the requested frame exists; only
 * then does it locate that frame's bytes (without decoding them).
 */
export function describe(bytes: Uint8Array, requestedFrame: number | undefined, limits: DecodeLimits): ImageDescription {
  // An inflated data set within the limits holds at most imagePixels x 6 bytes (16-bit RGB or 32-bit grey, the
  // widest renderable pixels) plus attributes; anything larger is refused while inflating.
  const ds = parse(bytes, Math.min(2 ** 31 - 1, limits.imagePixels * 6 + 16 * 1024 * 1024));
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
    throw tooLarge(`DICOM image is ${rows} x ${columns} = ${rows * columns} pixels per frame, over the limit of ${limits.imagePixels}`);
  }
  const total = rows * columns * numberOfFrames;
  if (total > limits.imagePixels) {
    throw tooLarge(
      `DICOM object has ${rows} x ${columns} x ${numberOfFrames} frame(s) = ${total} pixels, over the limit of ${limits.imagePixels}`,
    );
  }
  if (limits.frames !== undefined && numberOfFrames > limits.frames) {
    throw tooLarge(`DICOM object has ${numberOfFrames} frames, over the limit of ${limits.frames}`);
  }
  if (requestedFrame === undefined && numberOfFrames > 1) {
    throw badRequest(`DICOM object has ${numberOfFrames} frames: choose one with the frame parameter (0-based)`);
  }
  const frame = requestedFrame ?? 0;
  if (!Number.isInteger(frame) || frame < 0 || frame >= numberOfFrames) {
    throw badRequest(`frame ${frame} is out of range: this DICOM object has ${numberOfFrames} frame(s), numbered from 0`);
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
