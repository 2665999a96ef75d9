/**
 * Images named by reference (`{"dicomweb": {...}}` in JSON, a `dicomweb` form field in multipart) and images sent
 * as a multipart/related body (what WADO-RS answers and STOW-RS sends), read from a request; service/images.ts
 * retrieves the references.
 */
import { badRequest } from '../../errors.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import { MultipartError, parseMultipartRelated } from '../../dicomweb/multipart-related.ts';
import { parseInstanceReference } from '../../dicomweb/reference.ts';
import { isRecord } from '../../records.ts';
import type { GivenImage, RequestImage } from '../../service/images.ts';
import { tooManyImages, type ImageLimit } from './image-limit.ts';

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
