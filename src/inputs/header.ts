/**
 * The one header read of a PNG/JPEG/TIFF/WebP: sharp's metadata (a common JPEG's frame header read in JavaScript,
 * jpeg-header.ts), checked (page in range, pixels within the limit) before a byte of pixel data is decoded, and
 * what it says about which reader takes the file.
 */
import sharp from 'sharp';
import type { SharpOptions } from 'sharp';
import { badRequest, inField, undecodable } from '../errors.ts';
import type { SourcePreprocessing } from '../api-types.ts';
import type { RawDepth } from './raw-window.ts';
import type { SupportedImageFormat } from './format.ts';
import { readJpegHeader, type HeaderMeta } from './jpeg-header.ts';
import { imageTooLarge, type InputLimits } from './limits.ts';
import { onPrivateCopy } from './sharp-input.ts';

export interface ImageHeader {
  format: SupportedImageFormat;
  page: number;
  meta: HeaderMeta;
  /** The requested page's size: a TIFF's pages may differ from page 0, whose size `meta` has. */
  pageSize: { width: number; height: number };
  /** Set for a PNG or TIFF whose samples are wider than 8 bits: read at full depth and windowed, not cut to 8 bits. */
  wide: RawDepth | undefined;
  source: SourcePreprocessing;
}

const BIT_DEPTH: Record<string, number> = { uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64 };
const WIDE: ReadonlySet<string> = new Set<RawDepth>(['ushort', 'short', 'uint', 'int', 'float', 'double']);

/** Checks a page number against an image's page count; a PNG or single-page TIFF has page 0 only. */
function checkPage(page: number, pages: number): void {
  if (!Number.isInteger(page) || page < 0 || page >= pages) {
    throw inField('page', badRequest(`page ${page} is out of range: this image has ${pages} page(s), numbered from 0`));
  }
}

/** Options for opening the file at 8 bits: no EXIF rotation and no ICC transform (the reference, PIL, applies neither); one page. */
export function sharpOptions(limits: InputLimits, page: number): SharpOptions {
  return { limitInputPixels: limits.imagePixels, page, pages: 1, autoOrient: false, ignoreIcc: true, failOn: 'warning' };
}

/** A sharp failure as the client should see it: 413 past the pixel limit, else 422. */
export function sharpFailure(err: unknown, format: SupportedImageFormat): never {
  const message = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(message)) throw imageTooLarge('the image has more pixels than MAX_IMAGE_PIXELS allows');
  if (/^timeout:/.test(message))
    throw undecodable(`decoding the ${format.toUpperCase()} image took longer than DECODER_TIMEOUT_MS and was stopped`);
  // libvips keeps one error buffer for every thread of the process, so its text can carry the errors of other
  // images decoded at the same moment (and varies from run to run): none of it is passed on.
  throw undecodable(`the ${format.toUpperCase()} image could not be decoded: the file is damaged or truncated`);
}

async function pageMetadata(bytes: Buffer, format: SupportedImageFormat, page: number, limits: InputLimits): Promise<HeaderMeta> {
  try {
    return await onPrivateCopy(bytes, (copy) => sharp(copy, sharpOptions(limits, page)).metadata());
  } catch (err) {
    sharpFailure(err, format);
  }
}

/** Throws 422 when the header cannot be read, 400 for a page out of range, 413 past the pixel limit. */
export async function readHeader(bytes: Buffer, format: SupportedImageFormat, page: number, limits: InputLimits): Promise<ImageHeader> {
  let meta: HeaderMeta | undefined = format === 'jpeg' ? readJpegHeader(bytes) : undefined;
  try {
    meta ??= await onPrivateCopy(bytes, (copy) => sharp(copy, sharpOptions(limits, 0)).metadata());
  } catch (err) {
    sharpFailure(err, format);
  }
  checkPage(page, meta.pages ?? 1);
  const { width, height } = page === 0 ? meta : await pageMetadata(bytes, format, page, limits);
  if (!(width > 0 && height > 0)) throw undecodable(`the ${format.toUpperCase()} image has no pixels`);
  if (width * height > limits.imagePixels) {
    throw imageTooLarge(`the image is ${width}x${height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`);
  }
  // JPEG and WebP are 8-bit to sharp whatever the file holds; only PNG and TIFF reach the wide reader.
  const wide = (format === 'png' || format === 'tiff') && WIDE.has(meta.depth) ? (meta.depth as RawDepth) : undefined;
  const source: SourcePreprocessing = {
    format,
    width: meta.width,
    height: meta.height,
    channels: meta.channels,
    bit_depth: meta.bitsPerSample ?? BIT_DEPTH[meta.depth] ?? 8,
    has_alpha: meta.hasAlpha,
    pages: meta.pages ?? 1,
    ...(page === 0 ? {} : { page }),
  };
  return { format, page, meta, pageSize: { width, height }, wide, source };
}
