import { ServiceError } from '../errors.ts';
import { decodeImage } from '../inputs/decode.ts';
import type { DecodeDeps, ImageInput, ImageOptions, ModelInput } from '../inputs/decode.ts';
import type { ServedModel } from '../models/types.ts';

/** Runs `work` on every image concurrently (decoding is off the HTTP thread); an error names the image's position. */
async function eachImage<T>(images: readonly ImageInput[], work: (image: ImageInput) => Promise<T>): Promise<T[]> {
  return Promise.all(
    images.map(async (image, i) => {
      try {
        return await work(image);
      } catch (err) {
        if (err instanceof ServiceError && images.length > 1) {
          throw new ServiceError(err.statusCode, err.code, `image ${i}: ${err.message}`, { cause: err });
        }
        throw err;
      }
    }),
  );
}

/** Every image as the model's input tensor, with its preprocessing record. */
export async function decodeImages(
  images: readonly ImageInput[],
  model: ServedModel,
  deps: DecodeDeps,
  options: ImageOptions,
): Promise<Pick<ModelInput, 'pixels' | 'preprocessing'>[]> {
  // Only the tensor and the record outlive the request's inference; the S x S view is left to the collector.
  return eachImage(images, async (image) => {
    const { pixels, preprocessing } = await decodeImage(image, model.imageSpec, deps, options);
    return { pixels, preprocessing };
  });
}

/** The S x S RGB image the model would see (before normalization), with its preprocessing record. */
export async function previewImage(image: ImageInput, model: ServedModel, deps: DecodeDeps, options: ImageOptions): Promise<Pick<ModelInput, 'view' | 'preprocessing'>> {
  const [prepared] = await eachImage([image], (i) => decodeImage(i, model.imageSpec, deps, options));
  if (prepared === undefined) throw new Error('the image decoder returned nothing');
  return prepared;
}
