import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { badRequest, inField, unsupportedMediaType } from '../../errors.ts';
import { base64Error, dataUrlMediaType, decodeBase64Image } from '../../inputs/base64.ts';
import type { ImageInput, ImageOptions } from '../../inputs/decode.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import { requestedModel } from '../plugins/admission.ts';
import type { GivenImage } from '../../service/images.ts';
import { decodedImage } from './json-body.ts';
import { DICOMWEB_FIELD, formReferences, jsonReference, relatedImages } from './dicomweb-images.ts';
import { IMAGE_OPTION_NAMES, imageOptions } from './image-options.ts';
import { tooManyImages, type ImageLimit } from './image-limit.ts';
import { queryStrings, requestReader, type RequestBody } from './request-reader.ts';
import { ref } from '../openapi/schemas.ts';

/** One image route's request, declared once per route. */
export interface ImageRoute {
  /** The route, for messages. */
  path: string;
  /** The JSON request schema (openapi.yaml): its properties other than the image are the fields of every form. */
  schema: string;
  /** The JSON property holding the base64 image (`image`: exactly one) or images (`images`: a list). */
  imageProperty: 'image' | 'images';
  /**
   * Whether a raw image body is one of the forms. Such a route has the query string IMAGE_QUERY: the fields of
   * a raw body, and a `model` that applies to the other forms too.
   */
  raw: boolean;
  /** The 400 for a request that carries no image at all (no body). */
  usage: string;
}

/** An image route's request, whichever of the three forms it came in. */
export interface ImageRequest<Fields> {
  /** Uploaded, or references to instances on a DICOMweb source (the use case retrieves them). */
  images: GivenImage[];
  /** What is left of MAX_BODY_BYTES after the request's own body, for the images retrieved for it. */
  retrievalBytes: number;
  /** The rendering parameters, as the decoders take them. */
  rendering: ImageOptions;
  /** The route's own fields (model, labels, ...), held to the route's schema. */
  fields: Fields;
}

/** The query string of a route that takes a raw body: the model, and the rendering parameters as strings. */
export const IMAGE_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { model: ref('ModelId'), ...Object.fromEntries(IMAGE_OPTION_NAMES.map((name) => [name, { type: 'string' }])) },
};

const isDicomType = (type: string | undefined): boolean => type?.split(';')[0]?.trim().toLowerCase() === DICOM_MEDIA_TYPE;
const isRelatedType = (type: string | undefined): boolean => type?.split(';')[0]?.trim().toLowerCase() === 'multipart/related';

/** A base64 image from JSON (decoded off the HTTP thread for a large body); a `data:application/dicom;base64,` URL declares DICOM. */
function base64Image(request: FastifyRequest, text: string, what: string): ImageInput {
  const decoded = decodedImage(request, text);
  if (decoded === undefined) return { bytes: decodeBase64Image(text, what), declaredDicom: isDicomType(dataUrlMediaType(text)) };
  if (decoded.bytes === undefined) throw base64Error(decoded.fault ?? 'invalid', what);
  const { bytes } = decoded;
  return { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), declaredDicom: isDicomType(decoded.mediaType) };
}

/**
 * The reader of one image route: a raw image body with query parameters, multipart with `image` file parts
 * and form fields, or JSON with base64 images all become one ImageRequest (request-reader.ts reads and checks
 * the fields). The rendering parameters are also read by imageOptions, first, for its clearer messages and the
 * rules between them.
 */
export function imageRequestReader<Fields>(route: ImageRoute, limits: Pick<Config['limits'], 'bodyBytes' | 'imagesPerRequest'>) {
  const limit: ImageLimit =
    route.imageProperty === 'images'
      ? { max: limits.imagesPerRequest, rule: `MAX_IMAGES_PER_REQUEST allows ${limits.imagesPerRequest}` }
      : { max: 1, rule: `${route.path} takes one image` };
  const reader = requestReader({
    schema: route.schema,
    payload: route.imageProperty,
    formFields: [DICOMWEB_FIELD],
    files: limit,
    maxBytes: limits.bodyBytes,
  });
  const imageFields = new Set<string>(IMAGE_OPTION_NAMES);

  function checkCount(count: number, field: string): void {
    if (count === 0) throw inField(field, badRequest('no image was sent'));
    if (count > limit.max) throw tooManyImages(count, limit, field);
  }

  /** The images a body carries, in whichever form it came. */
  function given(request: FastifyRequest, body: RequestBody): GivenImage[] {
    if (body.raw !== undefined) {
      if (!route.raw) throw unsupportedMediaType(`${route.path} takes multipart/form-data or application/json (the image as base64)`);
      const { type } = body.raw;
      // A WADO-RS answer or STOW-RS body forwarded as it is: its DICOM parts are the images.
      return isRelatedType(type) ? relatedImages(body.raw.body, type, limit) : [{ bytes: body.raw.body, declaredDicom: isDicomType(type) }];
    }
    if (body.where === 'form field') {
      let references: GivenImage[];
      try {
        references = formReferences(body.formTexts.get(DICOMWEB_FIELD) ?? []);
      } catch (err) {
        throw inField(DICOMWEB_FIELD, err);
      }
      if (limit.max === 1 && body.files.length + references.length === 0)
        throw inField('image', badRequest('the form has no "image" file part (or "dicomweb" field)'));
      const files: GivenImage[] = body.files.map((file) => ({ bytes: file.data, declaredDicom: isDicomType(file.mimetype) }));
      return [...files, ...references];
    }
    const field = route.imageProperty;
    const { payload } = body;
    try {
      if (field === 'image') {
        const image = typeof payload === 'string' ? base64Image(request, payload, 'image') : jsonReference(payload, 'image', field);
        if (image === undefined) throw badRequest(route.usage);
        return [image];
      }
      if (!Array.isArray(payload)) throw badRequest(route.usage);
      // Counted before any is decoded: a thousand base64 images are refused without decoding one.
      checkCount(payload.length, field);
      const images = payload.map((item: unknown, i) =>
        typeof item === 'string' ? base64Image(request, item, `images[${i}]`) : jsonReference(item, `images[${i}]`, field),
      );
      if (!images.every((image) => image !== undefined)) throw badRequest(route.usage);
      return images;
    } catch (err) {
      throw inField(field, err);
    }
  }

  return async function readImageRequest(request: FastifyRequest): Promise<ImageRequest<Fields>> {
    const isRaw = Buffer.isBuffer(request.body);
    if (!isRaw) {
      const form = request.isMultipart() ? 'multipart' : 'JSON';
      // In the body's forms a rendering parameter in the query would be silently ignored, so it is refused instead.
      const misplaced = queryStrings(request).find(([name]) => imageFields.has(name))?.[0];
      if (misplaced !== undefined) {
        const message = `${misplaced} is a query parameter only with a raw image body; in a ${form} request send it ${form === 'JSON' ? 'as a property' : 'as a form field'}`;
        throw inField(misplaced, badRequest(message));
      }
    }
    const body = await reader.read(request);
    const images = given(request, body);
    if (!isRaw) {
      const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
      const fromQuery = route.raw ? text(queryStrings(request).find(([name]) => name === 'model')?.[1][0]) : undefined;
      const model = requestedModel(fromQuery, text(body.values.model));
      if (model !== undefined) body.values.model = model;
    }
    const { values, where } = body;
    const rendering = imageOptions(values, where);
    reader.validate(request, body);
    // Multipart file parts are named "image" whatever the route's JSON property.
    checkCount(images.length, where === 'property' ? route.imageProperty : 'image');
    if (rendering.frame !== undefined && images.some((image) => 'reference' in image && image.reference.frame !== undefined)) {
      throw inField('frame', badRequest('give the frame either in the dicomweb reference or as frame, not both'));
    }
    const fields = Object.fromEntries(Object.entries(values).filter(([name]) => !imageFields.has(name)));
    // The schema has checked them (here or as the JSON body): this is the shape it describes.
    const retrievalBytes = limits.bodyBytes - Number(request.headers['content-length'] ?? 0);
    return { images, retrievalBytes, rendering, fields: fields as Fields };
  };
}
