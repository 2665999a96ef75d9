/**
 * A use case's images as model inputs: each decoded through inputs/decode.ts with the limits, threads and memory
 * budget of the service and the context of the work (dropped with it, its `decode` steps in its trace); an error
 * names the image's position when there are several.
 */
import { DeadlineExceededError } from '../engine/errors.ts';
import { inField, withContext } from '../errors.ts';
import { decodeImage } from '../inputs/decode.ts';
import type { DecodeDeps, ImageInput, ImageOptions, ModelInput } from '../inputs/decode.ts';
import type { ServedModel } from '../models/types.ts';
import type { WorkContext } from './context.ts';

/** What decoding takes from the service: limits, decoder threads, memory budget (the work's context is given per call). */
export type DecodeServices = Omit<DecodeDeps, 'cancellation'>;

/** An image with the frame its DICOMweb reference named, which takes the place of the request's `frame`. */
type FramedImage = ImageInput & { frame?: number };

const framed = (options: ImageOptions, image: FramedImage): ImageOptions =>
  image.frame === undefined ? options : { ...options, frame: image.frame };

/**
 * `work`, or DeadlineExceededError once the deadline passes, whichever comes first (the work itself runs on and
 * gives its memory back when it ends).
 */
function withinDeadline<T>(work: Promise<T>, { deadline }: WorkContext): Promise<T> {
  if (deadline === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(false)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * Runs `work` on every image concurrently (decoding is off the HTTP thread); an error names the image's position,
 * and is about the `image` input unless it names another (`frame`, `page`).
 */
async function eachImage<I extends ImageInput, T>(images: readonly I[], work: (image: I) => Promise<T>): Promise<T[]> {
  return Promise.all(
    images.map(async (image, i) => {
      try {
        return await work(image);
      } catch (err) {
        throw inField('image', images.length > 1 ? withContext(`image ${i}`, err) : err);
      }
    }),
  );
}

/** Every image as the model's input tensor, with its preprocessing record. */
export async function decodeImages(
  images: readonly FramedImage[],
  model: ServedModel,
  services: DecodeServices,
  context: WorkContext,
  options: ImageOptions,
): Promise<Pick<ModelInput, 'pixels' | 'preprocessing'>[]> {
  const deps: DecodeDeps = { ...services, cancellation: context };
  // Only the tensor and the record outlive the request's inference; the S x S view is left to the collector.
  return eachImage(images, async (image) => {
    const startedAt = Date.now();
    const { pixels, preprocessing } = await decodeImage(image, model.imageSpec, deps, framed(options, image));
    context.trace?.step('decode', startedAt, Date.now());
    return { pixels, preprocessing };
  });
}

/** The S x S RGB image the model would see (before normalization), with its preprocessing record; 504 past the deadline. */
export async function previewImage(
  image: FramedImage,
  model: ServedModel,
  services: DecodeServices,
  context: WorkContext,
  options: ImageOptions,
): Promise<Pick<ModelInput, 'view' | 'preprocessing'>> {
  const deps: DecodeDeps = { ...services, cancellation: context };
  const startedAt = Date.now();
  const decoding = eachImage([image], (i) => decodeImage(i, model.imageSpec, deps, framed(options, i)));
  const [prepared] = await withinDeadline(decoding, context);
  context.trace?.step('decode', startedAt, Date.now());
  if (prepared === undefined) throw new Error('the image decoder returned nothing');
  return prepared;
}
