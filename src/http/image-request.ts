import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { badRequest, inField, tooLarge, unsupportedMediaType } from '../errors.ts';
import { dataUrlMediaType, decodeBase64Image } from '../inputs/base64.ts';
import type { ImageInput, ImageOptions } from '../inputs/decode.ts';
import { DICOM_MEDIA_TYPE } from '../inputs/dicom/index.ts';
import { requestedModel } from './admission.ts';
import {
  DICOMWEB_FIELD,
  formReferences,
  jsonReference,
  relatedImages,
  retrieveImages,
  type GivenImage,
  type RequestImage,
} from './dicomweb-images.ts';
import { validationField } from './error-handler.ts';
import { IMAGE_OPTION_NAMES, imageOptions } from './image-options.ts';
import type { OptionSource } from './image-options.ts';
import { listField, readForm, singleField } from './multipart.ts';
import { limitViolation } from './api-limits.ts';
import { ref, requestFields } from './schemas.ts';

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
  /** Uploaded or retrieved from a DICOMweb source: the same bytes either way. */
  images: RequestImage[];
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

/** What one form carried, before its fields are checked. */
interface Carried {
  images: GivenImage[];
  values: Record<string, unknown>;
  where: OptionSource;
}

/** How a schema error names where the value was, as Fastify's own validation messages do. */
const PREFIX: Record<OptionSource, string> = { 'query parameter': 'querystring', 'form field': 'form', property: 'body' };

const INTEGER = /^\s*\d+\s*$/;
const DECIMAL = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A query or form string as the JSON type its field declares; a string that does not read as one stays a string, for the checks to refuse. */
function typed(value: string, type: string | undefined): unknown {
  if ((type === 'integer' && INTEGER.test(value)) || (type === 'number' && DECIMAL.test(value))) return Number(value);
  return value;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);

const isDicomType = (type: string | undefined): boolean => type?.split(';')[0]?.trim().toLowerCase() === DICOM_MEDIA_TYPE;
const isRelatedType = (type: string | undefined): boolean => type?.split(';')[0]?.trim().toLowerCase() === 'multipart/related';

/** A base64 image from JSON; a `data:application/dicom;base64,` URL declares DICOM. */
function base64Image(text: string, what: string): ImageInput {
  return { bytes: decodeBase64Image(text, what), declaredDicom: isDicomType(dataUrlMediaType(text)) };
}

function checkImageCount(count: number, max: number, field: string): void {
  if (count === 0) throw inField(field, badRequest('no image was sent'));
  if (count > max) throw inField(field, tooLarge(`${count} images sent, MAX_IMAGES_PER_REQUEST allows ${max}`, 'too_many_images'));
}

/**
 * The reader of one image route: a raw image body with query parameters, multipart with `image` file parts
 * and form fields, or JSON with base64 images all become one ImageRequest, whose fields are checked against
 * one schema, the route's JSON request schema less its image property (query and form strings are first read
 * as the types that schema declares). The rendering parameters are also read by imageOptions, first, for its
 * clearer messages and the rules between them.
 */
export function imageRequestReader<Fields>(route: ImageRoute, limits: Pick<Config['limits'], 'bodyBytes' | 'imagesPerRequest'>) {
  const { schema, types } = requestFields(route.schema, route.imageProperty);
  const maxImages = route.imageProperty === 'images' ? limits.imagesPerRequest : 1;

  function fromRaw(request: FastifyRequest, body: Buffer, query: Record<string, unknown>): Carried {
    if (!route.raw) throw unsupportedMediaType(`${route.path} takes multipart/form-data or application/json (the image as base64)`);
    const values = Object.fromEntries(
      Object.entries(query).map(([name, value]) => [name, typeof value === 'string' ? typed(value, types.get(name)) : value]),
    );
    const type = request.headers['content-type'];
    // A WADO-RS answer or STOW-RS body forwarded as it is: its DICOM parts are the images.
    const images = isRelatedType(type) ? relatedImages(body, type, maxImages) : [{ bytes: body, declaredDicom: isDicomType(type) }];
    return { images, values, where: 'query parameter' };
  }

  async function fromForm(request: FastifyRequest): Promise<Carried> {
    const form = await readForm(request, {
      fileField: 'image',
      textFields: [...types.keys(), DICOMWEB_FIELD],
      maxFiles: maxImages,
      maxBytes: limits.bodyBytes,
    });
    const references = formReferences(form.fields.get(DICOMWEB_FIELD) ?? []);
    if (maxImages === 1 && form.files.length + references.length === 0)
      throw inField('image', badRequest('the form has no "image" file part (or "dicomweb" field)'));
    const values: Record<string, unknown> = {};
    for (const [name, type] of types) {
      // Lists come as repeated fields or one JSON array; anything else is one field at most.
      const value = type === 'array' ? listField(form, name) : singleField(form, name);
      if (value !== undefined) values[name] = typeof value === 'string' ? typed(value, type) : value;
    }
    const images: GivenImage[] = form.files.map((file) => ({ bytes: file.data, declaredDicom: isDicomType(file.mimetype) }));
    return { images: [...images, ...references], values, where: 'form field' };
  }

  function fromJson(body: unknown): Carried {
    const field = route.imageProperty;
    const { [field]: given, ...values } = isRecord(body) ? body : {};
    try {
      if (field === 'image') {
        const image = typeof given === 'string' ? base64Image(given, 'image') : jsonReference(given, 'image');
        if (image === undefined) throw badRequest(route.usage);
        return { images: [image], values, where: 'property' };
      }
      const items: unknown[] | undefined = Array.isArray(given) ? given : undefined;
      if (items === undefined) throw badRequest(route.usage);
      // Counted before any is decoded: a thousand base64 images are refused without decoding one.
      checkImageCount(items.length, maxImages, field);
      const images = items.map((item, i) =>
        typeof item === 'string' ? base64Image(item, `images[${i}]`) : jsonReference(item, `images[${i}]`),
      );
      if (!images.every((image) => image !== undefined)) throw badRequest(route.usage);
      return { images, values, where: 'property' };
    } catch (err) {
      throw inField(field, err);
    }
  }

  return async function readImageRequest(request: FastifyRequest): Promise<ImageRequest<Fields>> {
    const query = isRecord(request.query) ? request.query : {};
    let carried: Carried;
    if (Buffer.isBuffer(request.body)) {
      carried = fromRaw(request, request.body, query);
    } else {
      const form = request.isMultipart() ? 'multipart' : 'JSON';
      // In the body's forms a rendering parameter in the query would be silently ignored, so it is refused instead.
      const misplaced = IMAGE_OPTION_NAMES.find((name) => query[name] !== undefined);
      if (misplaced !== undefined) {
        const message = `${misplaced} is a query parameter only with a raw image body; in a ${form} request send it ${form === 'JSON' ? 'as a property' : 'as a form field'}`;
        throw inField(misplaced, badRequest(message));
      }
      carried = form === 'multipart' ? await fromForm(request) : fromJson(request.body);
      const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
      const model = requestedModel(route.raw ? text(query.model) : undefined, text(carried.values.model));
      if (model !== undefined) carried.values.model = model;
    }
    const { images, values, where } = carried;

    const rendering = imageOptions(values, where);
    // A JSON body was validated against the route's schema by Fastify already; the other forms are checked here.
    const validate = where === 'property' ? undefined : request.compileValidationSchema(schema);
    if (validate !== undefined && !validate(values)) {
      // A configured limit (labels' and templates' length) keeps its 413 code, as in JSON.
      const overLimit = limitViolation(validate.errors, PREFIX[where]);
      if (overLimit !== undefined) throw overLimit;
      const first = validate.errors?.[0];
      const refused = badRequest(
        first === undefined ? `invalid ${where}` : `${PREFIX[where]}${first.instancePath} ${first.message ?? 'is invalid'}`,
      );
      const field = validationField({ validation: validate.errors ?? [] });
      throw field === undefined ? refused : inField(field, refused);
    }
    // Multipart file parts are named "image" whatever the route's JSON property.
    checkImageCount(images.length, maxImages, where === 'property' ? route.imageProperty : 'image');
    if (rendering.frame !== undefined && images.some((image) => 'reference' in image && image.reference.frame !== undefined)) {
      throw inField('frame', badRequest('give the frame either in the dicomweb reference or as frame, not both'));
    }
    const fields = Object.fromEntries(Object.entries(values).filter(([name]) => !(IMAGE_OPTION_NAMES as readonly string[]).includes(name)));
    // The schema has checked them (here or as the JSON body): this is the shape it describes.
    return { images: await retrieveImages(request, images, limits.bodyBytes), rendering, fields: fields as Fields };
  };
}
