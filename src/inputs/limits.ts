import { tooLarge, type ServiceError } from '../errors.ts';

export interface InputLimits {
  /** Cap on decoded pixels per image (rows x columns x frames for DICOM), checked before decoding. */
  imagePixels: number;
}

/** 413 for an image over MAX_IMAGE_PIXELS, whichever reader finds it: one code, so clients can tell it from a body too large. */
export function imageTooLarge(message: string): ServiceError {
  return tooLarge(message, 'image_too_large');
}
