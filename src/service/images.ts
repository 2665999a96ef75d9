/**
 * The images of a use case: bytes as uploaded, or references to instances on a DICOMweb source, retrieved here
 * into the same bytes an upload carries so that they take exactly the upload's path (decode, memory budget,
 * limits) from there on.
 */
import { inField, tooLarge } from '../errors.ts';
import type { InstanceReference } from '../dicomweb/reference.ts';
import type { DicomwebSources } from '../dicomweb/sources.ts';
import type { ImageInput } from '../inputs/decode.ts';
import type { WorkContext } from './context.ts';

/** An image of a request: bytes, with what its reference said when it came from a DICOMweb source. */
export interface RequestImage extends ImageInput {
  /** The frame the reference named (0-based); it takes the place of the request's `frame` for this image. */
  frame?: number;
  /** The Study Instance UID the client sent (for FHIR's derivedFrom); never read from the image itself. */
  studyUid?: string;
}

/** An image as the request gave it: bytes, or a reference still to retrieve (and the input that named it). */
export type GivenImage = RequestImage | { reference: InstanceReference; field: string };

/**
 * Retrieves every referenced image, one after the other, each bounded by `maxBytes` less the images retrieved
 * before it (a request passes what is left of MAX_BODY_BYTES after its own body: retrieved bytes count against it).
 */
export async function retrieveImages(
  given: readonly GivenImage[],
  sources: DicomwebSources,
  context: WorkContext,
  maxBytes: number,
): Promise<RequestImage[]> {
  // Every reference is allowed and names a configured source before the first one is fetched.
  for (const image of given) {
    if (!('reference' in image)) continue;
    try {
      sources.authorize(image.reference.source, context);
    } catch (err) {
      throw inField(image.field, err);
    }
  }
  const images: RequestImage[] = [];
  let left = maxBytes;
  for (const image of given) {
    if (!('reference' in image)) {
      images.push(image);
      continue;
    }
    const { reference, field } = image;
    if (left <= 0) throw tooLarge('the images retrieved for this request are larger than MAX_BODY_BYTES allows');
    let bytes: Buffer;
    try {
      bytes = await sources.retrieveInstance(reference, context, left);
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
