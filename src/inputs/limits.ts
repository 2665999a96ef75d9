import type { Sharp } from 'sharp';
import { tooLarge, type ServiceError } from '../errors.ts';

export interface InputLimits {
  /** Cap on decoded pixels per image (rows x columns x frames for DICOM), checked before decoding. */
  imagePixels: number;
  /** Cap on the worst-case bytes one image's decode holds (MAX_IMAGE_BYTES); unset for the model's own golden images. */
  imageBytes?: number;
  /** sharp pipelines stop after this (rounded up to whole seconds: sharp's unit); unset for the golden images. */
  decodeTimeoutMs?: number;
  /** The decompression-bomb rule (MAX_DECOMPRESSION_RATIO); unset for the golden images. */
  decompression?: DecompressionLimit;
}

/**
 * An image may decode to at most max(exemptBytes, ratio x the bytes it was sent as). A decode bomb is a small
 * file of flat pixels that decodes to hundreds of megabytes: its cost is out of all proportion to what the client
 * sent. Small images are exempt: whatever their ratio, they are cheap to decode. So is JPEG: its coding cannot
 * pass about 256 decoded bytes per byte, and flat real images come close to that (docs/decisions.md), so the
 * ratio cannot tell a JPEG bomb from a scan; MAX_IMAGE_PIXELS and the memory budget bound it.
 */
export interface DecompressionLimit {
  ratio: number;
  exemptBytes: number;
}

/** 413 for an image whose decoded samples exceed the decompression limit for the bytes it came in. */
export function checkDecompression(
  image: { decodedBytes: number; sentBytes: number; jpeg: boolean; what: string },
  limit: DecompressionLimit | undefined,
): void {
  const { decodedBytes, sentBytes, what } = image;
  if (limit === undefined || image.jpeg || decodedBytes <= limit.exemptBytes || decodedBytes <= limit.ratio * sentBytes) return;
  const ratio = Math.round(decodedBytes / Math.max(1, sentBytes));
  throw imageTooLarge(
    `this ${what} decodes to ${decodedBytes} bytes from ${sentBytes} (${ratio}:1): over ${limit.exemptBytes} bytes, an image may decode to at most MAX_DECOMPRESSION_RATIO (${limit.ratio}) times its size`,
  );
}

/** 413 for an image over MAX_IMAGE_PIXELS, whichever reader finds it: one code, so clients can tell it from a body too large. */
export function imageTooLarge(message: string): ServiceError {
  return tooLarge(message, 'image_too_large');
}

/** A sharp pipeline held to the decode time limit: libvips stops it and sharp fails with "timeout: N% complete". */
export function bounded(pipeline: Sharp, limits: InputLimits): Sharp {
  return limits.decodeTimeoutMs === undefined ? pipeline : pipeline.timeout({ seconds: Math.ceil(limits.decodeTimeoutMs / 1000) });
}

/** The limits alone, without whatever else the object carries (a decoder thread gets a structured clone of them). */
export function limitsOf({ imagePixels, imageBytes, decodeTimeoutMs, decompression }: InputLimits): InputLimits {
  return {
    imagePixels,
    ...(imageBytes === undefined ? {} : { imageBytes }),
    ...(decodeTimeoutMs === undefined ? {} : { decodeTimeoutMs }),
    ...(decompression === undefined ? {} : { decompression: { ...decompression } }),
  };
}
