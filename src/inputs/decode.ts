/**
 * The one way a request's image becomes model input. Three readers produce 8-bit RGB — DICOM (rendered as a
 * viewer would), PNG/TIFF with samples wider than 8 bits (read at full depth and windowed), and everything else
 * (sharp at 8 bits, as the reference) — and all three then share one model transform (image.ts).
 */
import { ServiceError } from '../errors.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import { isDicom, renderDicom } from './dicom/index.ts';
import type { DicomRecord, WindowPreset, WindowRecord } from './dicom/index.ts';
import { sniffImageFormat } from './format.ts';
import { readHighBitDepth } from './high-bit-depth.ts';
import { normalizeToChw, readModelView, viewForModel } from './image.ts';
import type { DecodedImage, ImagePreprocessing, RgbImage, WindowUsed } from './image.ts';

/** The request's rendering parameters; they apply to every image of the request, each where it means something. */
export interface ImageOptions {
  /** A named window (DICOM greyscale). */
  window?: WindowPreset;
  /** An explicit window in modality units (DICOM greyscale); both or neither. */
  windowCenter?: number;
  windowWidth?: number;
  /** 0-based frame of a multi-frame DICOM object; required when it has more than one. */
  frame?: number;
  /** 0-based page of a multi-page TIFF (default 0). */
  page?: number;
}

export interface InputLimits {
  /** Cap on decoded pixels per image (rows x columns x frames for DICOM), checked before decoding. */
  imagePixels: number;
}

/** What the model will see: the S x S RGB crop before normalization, and the record of how it was made. */
export interface PreparedImage {
  view: Buffer;
  preprocessing: ImagePreprocessing;
}

/**
 * Attribute values come from the file: only printable ASCII, and not much of it, goes into a record that is
 * also sent as a response header.
 */
function printable(value: string, max = 64): string {
  return value.replace(/[^\x20-\x7e]/g, '').slice(0, max);
}

function windowUsed(window: WindowRecord, preset: WindowPreset | undefined): WindowUsed {
  const used: WindowUsed = { center: window.center, width: window.width, function: window.function, source: window.source };
  if (preset !== undefined && window.source === 'request') used.preset = preset;
  return used;
}

/** Samples per pixel as stored: palette and monochrome images have one. */
function samplesPerPixel(photometric: string): number {
  return photometric.startsWith('MONOCHROME') || photometric === 'PALETTE COLOR' ? 1 : 3;
}

function dicomSource(record: DicomRecord): ImagePreprocessing['source'] {
  return {
    format: 'dicom',
    width: record.columns,
    height: record.rows,
    channels: samplesPerPixel(record.photometricInterpretation),
    bit_depth: record.bitsStored,
    has_alpha: false,
    pages: record.numberOfFrames,
  };
}

function dicomRecord(record: DicomRecord): NonNullable<ImagePreprocessing['dicom']> {
  return {
    modality: record.modality === null ? null : printable(record.modality),
    transfer_syntax_uid: printable(record.transferSyntaxUid),
    photometric_interpretation: printable(record.photometricInterpretation),
    frame: record.frame,
    frames: record.numberOfFrames,
    bits_stored: record.bitsStored,
    inverted: record.inverted,
  };
}

/** The decoders' 413 carries the same code as the ordinary images' pixel limit. */
function asImageTooLarge(err: unknown): unknown {
  if (err instanceof ServiceError && err.statusCode === 413 && err.code !== 'image_too_large') {
    return new ServiceError(413, 'image_too_large', err.message, { cause: err });
  }
  return err;
}

type Decoded = RgbImage & { extra: Pick<ImagePreprocessing, 'dicom' | 'window'> };

async function readDicom(bytes: Buffer, options: ImageOptions, limits: InputLimits): Promise<Decoded> {
  const { window, windowCenter, windowWidth, frame } = options;
  const rendered = await renderDicom(
    bytes,
    {
      ...(window === undefined ? {} : { window }),
      ...(windowCenter === undefined ? {} : { windowCenter }),
      ...(windowWidth === undefined ? {} : { windowWidth }),
      ...(frame === undefined ? {} : { frame }),
    },
    { imagePixels: limits.imagePixels },
  );
  const { record } = rendered;
  return {
    rgb: rendered.data,
    width: rendered.width,
    height: rendered.height,
    source: dicomSource(record),
    extra: { dicom: dicomRecord(record), window: record.window === null ? null : windowUsed(record.window, window) },
  };
}

/** PNG/TIFF with 16- or 32-bit samples: full depth, percentile window; undefined for an 8-bit image. */
async function readWide(bytes: Buffer, options: ImageOptions, limits: InputLimits): Promise<Decoded | undefined> {
  const wide = await readHighBitDepth(bytes, { page: options.page ?? 0 }, limits);
  if (wide === undefined) return undefined;
  const { record } = wide;
  return {
    rgb: wide.data,
    width: wide.width,
    height: wide.height,
    source: {
      format: record.format === 'png' ? 'png' : 'tiff',
      width: wide.width,
      height: wide.height,
      channels: record.channels,
      bit_depth: record.bitDepth,
      has_alpha: record.hasAlpha,
      pages: record.pages,
      ...(record.page === 0 ? {} : { page: record.page }),
    },
    extra: { window: windowUsed(record.window, undefined) },
  };
}

/**
 * Reads a wide-sample reader's input (DICOM when it has the Part 10 preamble or was declared `application/dicom`,
 * since a bare data set has no preamble; PNG/TIFF with samples wider than 8 bits) to 8-bit RGB, or resolves to
 * undefined for an ordinary image, which sharp reads at 8 bits as the reference does.
 */
async function readWindowed(bytes: Buffer, options: ImageOptions, limits: InputLimits, declaredDicom: boolean): Promise<Decoded | undefined> {
  if (declaredDicom || isDicom(bytes)) return readDicom(bytes, options, limits);
  const sniffed = sniffImageFormat(bytes);
  if (sniffed.kind === 'supported' && (sniffed.format === 'png' || sniffed.format === 'tiff')) return readWide(bytes, options, limits);
  return undefined;
}

/**
 * The S x S RGB image the model will see (after windowing, resize and crop, before normalization) and its
 * preprocessing record. Errors are ServiceErrors: 400 (frame, page, window), 413 (pixels over the limit, before
 * decoding), 415 (format or transfer syntax not supported), 422 (undecodable).
 */
export async function prepareImage(bytes: Buffer, size: number, limits: InputLimits, options: ImageOptions = {}, declaredDicom = false): Promise<PreparedImage> {
  let decoded: Decoded | undefined;
  try {
    decoded = await readWindowed(bytes, options, limits, declaredDicom);
  } catch (err) {
    throw asImageTooLarge(err);
  }
  if (decoded === undefined) {
    const { view, source, transform } = await readModelView(bytes, size, limits, options.page === undefined ? {} : { page: options.page });
    return { view, preprocessing: { source, transform } };
  }
  const { view, transform } = await viewForModel(decoded.rgb, decoded.width, decoded.height, size, limits);
  return { view, preprocessing: { source: decoded.source, ...decoded.extra, transform } };
}

/** prepareImage, then the model's normalization: the tensor the image encoder takes. */
export async function decodeInput(bytes: Buffer, spec: ImageTensorSpec, limits: InputLimits, options: ImageOptions = {}, declaredDicom = false): Promise<DecodedImage> {
  const { view, preprocessing } = await prepareImage(bytes, spec.size, limits, options, declaredDicom);
  return { pixels: normalizeToChw(view, spec.size, spec), preprocessing };
}
