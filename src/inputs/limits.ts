import type { Sharp } from 'sharp';
import { tooLarge, type ServiceError } from '../errors.ts';

export interface InputLimits {
  /** Cap on decoded pixels per image (rows x columns x frames for DICOM), checked before decoding. */
  imagePixels: number;
  /** Cap on the worst-case bytes one image's decode holds (MAX_IMAGE_BYTES); unset for the model's own golden images. */
  imageBytes?: number;
  /** sharp pipelines stop after this (rounded up to whole seconds: sharp's unit); unset for the golden images. */
  decodeTimeoutMs?: number;
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
export function limitsOf({ imagePixels, imageBytes, decodeTimeoutMs }: InputLimits): InputLimits {
  return { imagePixels, ...(imageBytes === undefined ? {} : { imageBytes }), ...(decodeTimeoutMs === undefined ? {} : { decodeTimeoutMs }) };
}
