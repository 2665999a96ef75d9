import { inField, tooLarge, type ServiceError } from '../../errors.ts';

/** How many images a request may carry, and the rule that says so, for the message. */
export interface ImageLimit {
  max: number;
  /** `MAX_IMAGES_PER_REQUEST allows 16`, `/classify takes one image`, ... */
  rule: string;
}

/** The one refusal of too many images, in whatever form they came: 413 too_many_images about `field`. */
export function tooManyImages(sent: number | string, limit: ImageLimit, field = 'image'): ServiceError {
  return inField(field, tooLarge(`${sent} images sent; ${limit.rule}`, 'too_many_images'));
}
