import sharp from 'sharp';
import type { Metadata, OutputInfo } from 'sharp';
import { badRequest, tooLarge, undecodable, type ServiceError } from '../errors.ts';
import { decoderPool, unwrap } from './dicom/pool.ts';
import type { RawDepth } from './dicom/raw-window.ts';
import type { WindowRecord } from './dicom/types.ts';

export interface HighBitDepthRecord {
  format: string;
  bitDepth: number;
  page: number;
  pages: number;
  /** Bands in the file, alpha included, and whether one is alpha: the file as it came, not the windowed RGB. */
  channels: number;
  hasAlpha: boolean;
  window: WindowRecord;
}

export interface HighBitDepthImage {
  width: number;
  height: number;
  channels: 3;
  /** 8-bit RGB, interleaved. */
  data: Buffer;
  record: HighBitDepthRecord;
}

const BITS: Record<RawDepth, number> = { ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64 };

function isWide(depth: string | undefined): depth is RawDepth {
  return depth !== undefined && Object.hasOwn(BITS, depth);
}

/** Checks a page number against an image's page count; a PNG or single-page TIFF has page 0 only. */
export function checkPage(page: number, pages: number): void {
  if (!Number.isInteger(page) || page < 0 || page >= pages) {
    throw badRequest(`page ${page} is out of range: this image has ${pages} page(s), numbered from 0`);
  }
}

function sharpError(error: unknown): ServiceError {
  const reason = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(reason)) return tooLarge(`image is larger than the pixel limit: ${reason}`);
  return undecodable(`image cannot be decoded: ${reason}`);
}

/**
 * Reads a PNG or TIFF whose samples are wider than 8 bits at full depth (the chosen page of a multi-page TIFF)
 * and windows it to 8-bit RGB with the automatic percentile rule DICOM uses, instead of letting sharp drop the
 * low bits. Resolves to undefined for an ordinary 8-bit image, which the caller decodes as usual.
 */
export async function readHighBitDepth(
  bytes: Buffer,
  options: { page?: number },
  limits: { imagePixels: number },
): Promise<HighBitDepthImage | undefined> {
  const page = options.page ?? 0;
  const input = { limitInputPixels: limits.imagePixels, failOn: 'error' as const };
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, input).metadata();
  } catch (error) {
    throw sharpError(error);
  }
  const pages = metadata.pages ?? 1;
  checkPage(page, pages);
  const depth = metadata.depth;
  if (!isWide(depth)) return undefined;

  let raw: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(bytes, { ...input, page });
    // Pin the colourspace: left alone, sharp converts to 8-bit sRGB (16-bit) or applies an sRGB transform (float).
    const colour = (metadata.channels ?? 1) >= 3;
    if (depth === 'ushort') pipeline = pipeline.toColourspace(colour ? 'rgb16' : 'grey16');
    else if (!colour) pipeline = pipeline.toColourspace('b-w');
    raw = await pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw sharpError(error);
  }
  const { width, height, channels } = raw.info;
  // sharp's buffer may be a view into a shared pool: copy it once into a buffer of its own and transfer that,
  // rather than letting postMessage clone it a second time.
  const samples = new Uint8Array(raw.data);
  const result = await decoderPool().run({ kind: 'raw', raw: { data: samples, width, height, channels, depth } }, [samples.buffer]);
  const { data, window } = unwrap<Extract<typeof result, { kind: 'raw' }>>(result, 'raw');
  return {
    width,
    height,
    channels: 3,
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    record: { format: metadata.format ?? 'unknown', bitDepth: BITS[depth], page, pages, channels: metadata.channels, hasAlpha: metadata.hasAlpha, window },
  };
}
