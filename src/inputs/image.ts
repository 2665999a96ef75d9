import sharp from 'sharp';
import type { Metadata, OutputInfo, SharpOptions } from 'sharp';
import { tooLarge, undecodable, unsupportedMediaType } from '../errors.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import { sniffImageFormat, SUPPORTED_IMAGE_FORMATS } from './format.ts';
import { checkPage } from './high-bit-depth.ts';
import type { SupportedImageFormat } from './format.ts';

/** The window that turned wide samples (DICOM greyscale, 16-bit PNG/TIFF) into 8 bits, and where it came from. */
export interface WindowUsed {
  /** Center and width in modality units (Hounsfield units for CT); null for a VOI LUT, which has none. */
  center: number | null;
  width: number | null;
  function: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' | 'LUT';
  /** request (window_center/width or a preset), voi_lut (the file's VOI LUT), file (its Window Center/Width), auto (percentiles). */
  source: 'request' | 'voi_lut' | 'file' | 'auto';
  /** The preset the request named, when it named one. */
  preset?: string;
}

/** Technical DICOM attributes of the object decoded; nothing that identifies a patient, study or institution. */
export interface DicomPreprocessing {
  modality: string | null;
  transfer_syntax_uid: string;
  photometric_interpretation: string;
  /** The frame rendered (0-based) and how many the object has. */
  frame: number;
  frames: number;
  bits_stored: number;
  /** MONOCHROME1 (or an INVERSE presentation LUT shape) was inverted so that high values are bright. */
  inverted: boolean;
}

/** What happened to one image on its way to the model: returned to callers so results can be audited. */
export interface ImagePreprocessing {
  source: {
    format: SupportedImageFormat | 'dicom';
    width: number;
    height: number;
    /** Bands in the file, alpha included (samples per pixel for DICOM). */
    channels: number;
    bit_depth: number;
    has_alpha: boolean;
    /** Pages in a multi-page file (frames for DICOM). */
    pages: number;
    /** The page used, when it is not page 0. */
    page?: number;
  };
  /** DICOM input only. */
  dicom?: DicomPreprocessing;
  /** Present for DICOM and for samples wider than 8 bits; null for colour DICOM, which is shown as stored. */
  window?: WindowUsed | null;
  transform: {
    /** Bicubic resize target, or null when the shorter side already equals the model size. */
    resize: { width: number; height: number } | null;
    crop: { left: number; top: number; width: number; height: number };
    /** The model's input size S (the tensor is 3 x S x S). */
    size: number;
  };
}

export interface DecodedImage {
  /** CHW float32, 3 x S x S, scaled to [0, 1] then normalized with the model's mean and std. */
  pixels: Float32Array;
  preprocessing: ImagePreprocessing;
}

/** Python's round(): halves go to the even neighbour, as torchvision's centre crop computes its offsets. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * torchvision `Resize(S)` + `CenterCrop(S)` geometry: the shorter side becomes S, the longer one
 * `int(S * long / short)` (truncated); no resize when the shorter side already equals S.
 */
export function transformGeometry(width: number, height: number, size: number): ImagePreprocessing['transform'] {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let resize: { width: number; height: number } | null = null;
  let w = width;
  let h = height;
  if (short !== size) {
    const newLong = Math.floor((size * long) / short);
    [w, h] = width <= height ? [size, newLong] : [newLong, size];
    resize = { width: w, height: h };
  }
  const top = roundHalfEven((h - size) / 2);
  const left = roundHalfEven((w - size) / 2);
  return { resize, crop: { left, top, width: size, height: size }, size };
}

const BIT_DEPTH: Record<string, number> = { uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64 };

const PIXEL_LIMIT_MESSAGE = /pixel limit/i;

function sharpOptions(limits: { imagePixels: number }, page: number): SharpOptions {
  // No EXIF rotation and no ICC transform: the reference (PIL) applies neither. One page of a multi-page file.
  return { limitInputPixels: limits.imagePixels, page, pages: 1, autoOrient: false, ignoreIcc: true, failOn: 'warning' };
}

function rethrowDecodeFailure(err: unknown, format: SupportedImageFormat): never {
  const message = err instanceof Error ? err.message : String(err);
  if (PIXEL_LIMIT_MESSAGE.test(message)) throw tooLarge('the image has more pixels than MAX_IMAGE_PIXELS allows', 'image_too_large');
  // The library's message describes the damage, never pixel values, so it is safe to pass on.
  throw undecodable(`the ${format.toUpperCase()} image could not be decoded: ${message.split('\n')[0]?.trim() ?? ''}`);
}

/** An image as 8-bit RGB (interleaved, row-major), before the model transform. */
export interface RgbImage {
  rgb: Buffer;
  width: number;
  height: number;
  source: ImagePreprocessing['source'];
}

/** A plain image's header, checked: supported format, page in range, pixels within the limit. */
interface CheckedHeader {
  format: SupportedImageFormat;
  page: number;
  meta: Metadata;
  source: ImagePreprocessing['source'];
}

/** Throws 415 for formats other than PNG/JPEG/TIFF/WebP, 422 when undecodable, 413 past the pixel limit, 400 for a page out of range. */
async function readHeader(bytes: Buffer, limits: { imagePixels: number }, page: number): Promise<CheckedHeader> {
  const sniffed = sniffImageFormat(bytes);
  if (sniffed.kind === 'unsupported') {
    throw unsupportedMediaType(`${sniffed.name} images are not supported; send ${SUPPORTED_IMAGE_FORMATS.join(', ')}`);
  }
  if (sniffed.kind === 'unknown') {
    throw undecodable(`the content is not a decodable ${SUPPORTED_IMAGE_FORMATS.join(', ')} image`);
  }
  const format = sniffed.format;
  let meta: Metadata;
  try {
    meta = await sharp(bytes, sharpOptions(limits, 0)).metadata();
  } catch (err) {
    rethrowDecodeFailure(err, format);
  }
  checkPage(page, meta.pages ?? 1);
  const { width, height } = meta;
  if (!(width > 0 && height > 0)) throw undecodable(`the ${format.toUpperCase()} image has no pixels`);
  if (width * height > limits.imagePixels) {
    throw tooLarge(`the image is ${width}x${height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`, 'image_too_large');
  }
  const source: ImagePreprocessing['source'] = {
    format,
    width,
    height,
    channels: meta.channels,
    bit_depth: meta.bitsPerSample ?? BIT_DEPTH[meta.depth] ?? 8,
    has_alpha: meta.hasAlpha,
    pages: meta.pages ?? 1,
    ...(page === 0 ? {} : { page }),
  };
  return { format, page, meta, source };
}

/**
 * Step 1 of the reference, `convert('RGB')`: the whole image as 8-bit RGB (grey expanded, alpha dropped).
 * Decoding to raw RGB before resizing keeps the reference's order (resizing with alpha present would premultiply
 * it and change the colours of translucent pixels).
 */
async function decodeRgb(bytes: Buffer, header: CheckedHeader, limits: { imagePixels: number }): Promise<RgbImage> {
  const { format, page, meta } = header;
  let rgb: Buffer;
  let info: OutputInfo;
  try {
    ({ data: rgb, info } = await sharp(bytes, sharpOptions(limits, page)).removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }));
  } catch (err) {
    rethrowDecodeFailure(err, format);
  }
  // Pages of a TIFF may differ in size; page 0's are in `meta`.
  if (info.channels !== 3 || (page === 0 && (info.width !== meta.width || info.height !== meta.height))) {
    throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
  }
  if (info.width * info.height > limits.imagePixels) {
    throw tooLarge(`page ${page} is ${info.width}x${info.height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`, 'image_too_large');
  }
  return { rgb, width: info.width, height: info.height, source: { ...header.source, width: info.width, height: info.height } };
}

/**
 * Decodes a PNG/JPEG/TIFF/WebP with sharp to 8-bit RGB (grey expanded, alpha dropped), as the reference's
 * `convert('RGB')` does. `page` picks the page of a multi-page file (default 0). Throws 415 for other formats,
 * 422 for content that cannot be decoded, 413 past the pixel limit, 400 for a page out of range.
 */
export async function readRgb(bytes: Buffer, limits: { imagePixels: number }, options: { page?: number } = {}): Promise<RgbImage> {
  return decodeRgb(bytes, await readHeader(bytes, limits, options.page ?? 0), limits);
}

/** The S x S view the model sees, with what was done to make it. */
export interface ModelView {
  view: Buffer;
  source: ImagePreprocessing['source'];
  transform: ImagePreprocessing['transform'];
}

/**
 * 8-bit images without alpha that are already RGB or grey need no conversion before the resize, so sharp can
 * decode, resize and crop in one pipeline and never hand the full-size decoded image to JavaScript (for a
 * 512x512 JPEG, 786 KB per request less to allocate and collect). The result is byte-identical to the two-step
 * path (test/inputs-image.test.ts compares them).
 */
function decodesInOnePass(header: CheckedHeader): boolean {
  const { meta, page } = header;
  if (page !== 0 || meta.hasAlpha || meta.depth !== 'uchar') return false;
  return (meta.channels === 3 && meta.space === 'srgb') || (meta.channels === 1 && meta.space === 'b-w');
}

/**
 * Decodes a PNG/JPEG/TIFF/WebP and applies the reference's geometric transform (RGB, shorter side to S with
 * bicubic, centre crop): the S x S view before normalization. Errors as readRgb.
 */
export async function readModelView(bytes: Buffer, size: number, limits: { imagePixels: number }, options: { page?: number } = {}): Promise<ModelView> {
  const header = await readHeader(bytes, limits, options.page ?? 0);
  if (!decodesInOnePass(header)) {
    const { rgb, width, height, source } = await decodeRgb(bytes, header, limits);
    return { ...(await viewForModel(rgb, width, height, size, limits)), source };
  }
  const transform = transformGeometry(header.meta.width, header.meta.height, size);
  checkResizeLimit(header.meta.width, header.meta.height, transform, limits);
  // pipelineColourspace('srgb') makes grey RGB before the resize, as convert('RGB') does, and also turns off
  // JPEG shrink-on-load (which fastShrinkOnLoad: false still uses from a factor of 4), so no pixel differs.
  let pipeline = sharp(bytes, sharpOptions(limits, 0)).pipelineColourspace('srgb');
  if (transform.resize !== null) pipeline = pipeline.resize(transform.resize.width, transform.resize.height, RESIZE);
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.extract(transform.crop).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    rethrowDecodeFailure(err, header.format);
  }
  if (out.info.width !== size || out.info.height !== size || out.info.channels !== 3) {
    throw new Error(`unexpected view layout ${out.info.width}x${out.info.height}x${out.info.channels}`);
  }
  return { view: out.data, source: header.source, transform };
}

/** Bicubic as PIL Image.BICUBIC, without JPEG shrink-on-load (which shifts pixels). */
const RESIZE = { kernel: 'cubic', fit: 'fill', fastShrinkOnLoad: false } as const;

/**
 * The whole image is resized before the crop (as the reference does), so a thin strip (1 x 100000) would grow
 * to gigabytes: the resized image is held to the same pixel limit as a decoded one.
 */
function checkResizeLimit(width: number, height: number, transform: ImagePreprocessing['transform'], limits: { imagePixels: number }): void {
  if (transform.resize === null || transform.resize.width * transform.resize.height <= limits.imagePixels) return;
  throw tooLarge(
    `resizing this ${width}x${height} image so that its shorter side is ${transform.size} would make ${transform.resize.width}x${transform.resize.height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`,
    'image_too_large',
  );
}

/**
 * Step 2 of the reference transform on 8-bit RGB: shorter side to S with bicubic (as PIL Image.BICUBIC) and the
 * centre S x S crop. The result is what the model sees before normalization (what /preview returns).
 */
export async function viewForModel(
  rgb: Buffer,
  width: number,
  height: number,
  size: number,
  limits: { imagePixels: number },
): Promise<{ view: Buffer; transform: ImagePreprocessing['transform'] }> {
  const transform = transformGeometry(width, height, size);
  const { crop } = transform;
  if (transform.resize === null) return { view: cropRgb(rgb, width, crop), transform };
  checkResizeLimit(width, height, transform, limits);
  const resized = await sharp(rgb, { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .resize(transform.resize.width, transform.resize.height, RESIZE)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (resized.info.width !== transform.resize.width || resized.info.height !== transform.resize.height) {
    throw new Error(`resize produced ${resized.info.width}x${resized.info.height}, wanted ${transform.resize.width}x${transform.resize.height}`);
  }
  return { view: cropRgb(resized.data, transform.resize.width, crop), transform };
}

/**
 * Decodes an ordinary image and applies the model's evaluation transform exactly as the reference does
 * (models/README.md "Image transform"): RGB (grey expanded, alpha dropped), shorter side to S with bicubic,
 * centre crop, /255, mean/std, CHW float32. Throws 415 for formats other than PNG/JPEG/TIFF/WebP, 422 for
 * content that cannot be decoded and 413 past the pixel limit. Samples wider than 8 bits are scaled by sharp;
 * requests go through `decodeInput` (src/inputs/decode.ts), which windows those and DICOM instead.
 */
export async function decodeImage(bytes: Buffer, spec: ImageTensorSpec, limits: { imagePixels: number }, options: { page?: number } = {}): Promise<DecodedImage> {
  const { view, source, transform } = await readModelView(bytes, spec.size, limits, options);
  return { pixels: normalizeToChw(view, spec.size, spec), preprocessing: { source, transform } };
}

/** Copies the crop box out of an interleaved RGB buffer `width` pixels wide. */
function cropRgb(rgb: Buffer, width: number, crop: { left: number; top: number; width: number; height: number }): Buffer {
  const out = Buffer.allocUnsafe(crop.width * crop.height * 3);
  const rowBytes = crop.width * 3;
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.top + y) * width + crop.left) * 3;
    rgb.copy(out, y * rowBytes, from, from + rowBytes);
  }
  return out;
}

/**
 * HWC uint8 -> CHW float32, `(x / 255 - mean) / std` with every step rounded to float32 as numpy does it in the
 * reference (float32 arrays, float32 mean/std), so the tensor matches bit for bit.
 */
export function normalizeToChw(rgb: Buffer, size: number, spec: ImageTensorSpec): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(spec.mean[c] ?? 0);
    const std = Math.fround(spec.std[c] ?? 1);
    // 256 possible inputs per channel: a lookup table makes the per-pixel work one load.
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(v / 255) - mean) / std;
    const base = c * plane;
    for (let i = 0; i < plane; i++) out[base + i] = table[rgb[i * 3 + c] ?? 0] ?? 0;
  }
  return out;
}
