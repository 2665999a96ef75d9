/**
 * Images named by reference (`{"dicomweb": {...}}` in JSON, a `dicomweb` form field in multipart) and images sent
 * as a multipart/related body (what WADO-RS answers and STOW-RS sends), turned into the same ImageInput an upload
 * is, so that they take exactly the upload's path (decode, memory budget, limits) from there on.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, inField, tooLarge } from '../errors.ts';
import type { ImageInput } from '../inputs/decode.ts';
import { DICOM_MEDIA_TYPE } from '../inputs/dicom/index.ts';
import { MultipartError, parseMultipartRelated } from '../dicomweb/multipart-related.ts';
import { parseInstanceReference, type InstanceReference } from '../dicomweb/reference.ts';
import { isRecord } from '../records.ts';
import { tooManyImages, type ImageLimit } from './image-limit.ts';

/** An image of a request: bytes, with what its reference said when it came from a DICOMweb source. */
export interface RequestImage extends ImageInput {
  /** The frame the reference named (0-based); it takes the place of the request's `frame` for this image. */
  frame?: number;
  /** The Study Instance UID the client sent (for FHIR's derivedFrom); never read from the image itself. */
  studyUid?: string;
}

/** An image as the request gave it: bytes, or a reference still to retrieve (and the input that named it). */
export type GivenImage = RequestImage | { reference: InstanceReference; field: string };

export const DICOMWEB_FIELD = 'dicomweb';

/** `{"dicomweb": {...}}` where a JSON image may stand; undefined for anything else (a base64 string is not this). */
export function jsonReference(value: unknown, what: string, field: string): GivenImage | undefined {
  if (!isRecord(value) || !(DICOMWEB_FIELD in value)) return undefined;
  if (Object.keys(value).length !== 1) throw badRequest(`${what} must be a base64 image or {"dicomweb": {...}} alone`);
  return { reference: parseInstanceReference(value[DICOMWEB_FIELD], `${what}.dicomweb`), field };
}

/** The `dicomweb` form fields, each one JSON reference. */
export function formReferences(values: readonly string[]): GivenImage[] {
  return values.map((text, i) => {
    const what = values.length === 1 ? 'form field "dicomweb"' : `form field "dicomweb" #${i}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw badRequest(`${what} must hold JSON {"source", "study", "series", "instance", "frame"?}`);
    }
    return { reference: parseInstanceReference(parsed, what), field: DICOMWEB_FIELD };
  });
}

/** The DICOM parts of a multipart/related body (parts typed otherwise are refused: this body carries instances). */
export function relatedImages(body: Buffer, contentType: string | undefined, limit: ImageLimit): RequestImage[] {
  let parts;
  try {
    parts = parseMultipartRelated(body, contentType, limit.max);
  } catch (error) {
    if (!(error instanceof MultipartError)) throw error;
    if (/more than \d+ parts/.test(error.message)) throw tooManyImages(`more than ${limit.max}`, limit);
    throw badRequest(`malformed multipart/related body: ${error.message}`);
  }
  const other = parts.find((p) => p.type !== DICOM_MEDIA_TYPE && p.type !== '');
  if (other !== undefined)
    throw badRequest(`a multipart/related body carries application/dicom parts only (got ${other.type.slice(0, 100)})`);
  return parts.map((part) => ({ bytes: part.data, declaredDicom: true }));
}

/**
 * Retrieves every referenced image, one after the other, each bounded by what is left of MAX_BODY_BYTES after the
 * request's own body and the images retrieved before it: retrieved bytes count against the body limit.
 */
export async function retrieveImages(request: FastifyRequest, given: readonly GivenImage[], bodyBytes: number): Promise<RequestImage[]> {
  const images: RequestImage[] = [];
  let left = bodyBytes - Number(request.headers['content-length'] ?? 0);
  for (const image of given) {
    if (!('reference' in image)) {
      images.push(image);
      continue;
    }
    const { reference, field } = image;
    if (left <= 0) throw tooLarge('the images retrieved for this request are larger than MAX_BODY_BYTES allows');
    let bytes: Buffer;
    try {
      bytes = await request.server.dicomweb.retrieveInstance(reference, request.cancellation, left);
    } catch (err) {
      throw inField(field, err);
    }
    left -= bytes.length;
    images.push({
      bytes,
      declaredDicom: true,
      studyUid: reference.study,
      ...(reference.frame === undefined ? {} : { frame: reference.frame }),
    });
  }
  return images;
}

/** The one Study Instance UID the request's references named, for FHIR's derivedFrom; none when they named several or none. */
export function studyUidOf(images: readonly RequestImage[]): string | undefined {
  const studies = new Set(images.map((image) => image.studyUid));
  const [only] = studies;
  return studies.size === 1 ? only : undefined;
}
