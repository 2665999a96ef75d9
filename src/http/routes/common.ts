import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { badRequest, ServiceError, tooLarge } from '../../errors.ts';
import { dataUrlMediaType, decodeBase64Image } from '../../inputs/base64.ts';
import { decodeInput, prepareImage } from '../../inputs/decode.ts';
import type { ImageOptions, PreparedImage } from '../../inputs/decode.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import type { DecodedImage } from '../../inputs/image.ts';
import type { FormFile } from '../multipart.ts';
import type { ServedModel } from '../../models/types.ts';
import type { ServiceState } from '../state.ts';

/** The model a request asked for (the default without one); its sha256 goes into the response headers. */
export function pickModel(state: ServiceState, reply: FastifyReply, id: string | undefined): ServedModel {
  const model = state.acceptWork().get(id);
  void reply.header('x-model-sha256', model.sha256);
  return model;
}

/** `model` may come from the query string or the body, but the two must not disagree. */
export function modelId(request: FastifyRequest<{ Querystring: { model?: string } }>, fromBody: string | undefined): string | undefined {
  const fromQuery = request.query.model;
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw badRequest(`model is "${fromQuery}" in the query but "${fromBody}" in the body`);
  }
  return fromBody ?? fromQuery;
}

export function checkImageCount(count: number, config: Config): void {
  if (count === 0) throw badRequest('no image was sent');
  if (count > config.limits.imagesPerRequest) {
    throw tooLarge(`${count} images sent, MAX_IMAGES_PER_REQUEST allows ${config.limits.imagesPerRequest}`, 'too_many_images');
  }
}

/** Counts code points (up to `stopAfter` + 1), not UTF-16 units, so a limit means the same for every script. */
export function characters(text: string, stopAfter: number): number {
  if (text.length <= stopAfter) return text.length;
  let n = 0;
  for (const _ of text) if (++n > stopAfter) break;
  return n;
}

/** Refuses any text over MAX_CHARS_PER_TEXT, naming it by position only (texts may be patient data). */
export function checkTextLengths(texts: readonly string[], config: Config, what: string): void {
  const max = config.limits.charsPerText;
  texts.forEach((text, i) => {
    if (characters(text, max) > max) throw tooLarge(`${what} ${i} is longer than MAX_CHARS_PER_TEXT (${max} characters)`, 'text_too_long');
  });
}

/** One image of a request, and whether its sender declared it DICOM (needed for a data set without a preamble). */
export interface ImageInput {
  bytes: Buffer;
  declaredDicom: boolean;
}

const isDicomType = (type: string | undefined): boolean => type?.split(';')[0]?.trim().toLowerCase() === DICOM_MEDIA_TYPE;

export function rawImage(request: FastifyRequest, body: Buffer): ImageInput {
  return { bytes: body, declaredDicom: isDicomType(request.headers['content-type']) };
}

export function formImage(file: FormFile): ImageInput {
  return { bytes: file.data, declaredDicom: isDicomType(file.mimetype) };
}

/** A base64 image from JSON; a `data:application/dicom;base64,` URL declares DICOM. */
export function base64Image(text: string, what: string): ImageInput {
  return { bytes: decodeBase64Image(text, what), declaredDicom: isDicomType(dataUrlMediaType(text)) };
}

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
export function decodeImages(images: readonly ImageInput[], model: ServedModel, config: Config, options: ImageOptions): Promise<DecodedImage[]> {
  const limits = { imagePixels: config.limits.imagePixels };
  return eachImage(images, (image) => decodeInput(image.bytes, model.imageSpec, limits, options, image.declaredDicom));
}

/** The S x S RGB image the model would see (before normalization), with its preprocessing record. */
export async function previewImage(image: ImageInput, model: ServedModel, config: Config, options: ImageOptions): Promise<PreparedImage> {
  const [prepared] = await eachImage([image], (i) => prepareImage(i.bytes, model.imageSpec.size, { imagePixels: config.limits.imagePixels }, options, i.declaredDicom));
  if (prepared === undefined) throw new Error('the image decoder returned nothing');
  return prepared;
}
