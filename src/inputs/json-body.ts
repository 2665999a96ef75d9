/**
 * A large JSON body read on a pixel decoder thread (JSON_WORKER_MIN_BYTES): checked as UTF-8 and parsed as
 * Fastify's own parser does (secure-json-parse, `__proto__` and `constructor.prototype` refused), and, on an
 * image route, its base64 images decoded there too. Each decoded image leaves the thread as its own buffer
 * (transferred, not copied) and its string in the body becomes a short marker, so the HTTP thread neither parses
 * the megabytes nor copies them back (a structured clone of the strings costs the HTTP thread as much as the
 * parse). A refused image keeps its refusal (`fault`), answered where the image is read, in request order.
 */
import { isUtf8 } from 'node:buffer';
import secureJsonParse from 'secure-json-parse';
import { isRecord } from '../records.ts';
import { base64Bytes, dataUrlMediaType, type Base64Fault } from './base64.ts';

/** Which strings are images: the top-level `image` (a string) or `images` (a list) of an image route's body. */
export interface JsonImages {
  /** What each decoded image's string becomes, followed by its index; unguessable, so no client can send one. */
  marker: string;
  /** A list longer than this is refused (413) before any image is read: then none is decoded. */
  maxItems: number;
}

/** One image decoded on the thread: its bytes, or why it was refused; and the media type a data URL declared. */
export interface DecodedImage {
  bytes?: Uint8Array;
  fault?: Base64Fault;
  mediaType?: string;
}

export type JsonBody = { ok: false; reason: 'utf8' | 'json' } | { ok: true; value: unknown; images: DecodedImage[] };

/** Shorter strings stay strings: decoding them on the HTTP thread costs less than the marker's bookkeeping. */
export const MIN_DECODED_CHARS = 1024;

/** Small Buffers live in Node's shared pool, which must not be transferred; give them an ArrayBuffer of their own. */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

export function readJsonBody(bytes: Uint8Array, images: JsonImages | undefined): { body: JsonBody; transfer: ArrayBuffer[] } {
  if (!isUtf8(bytes)) return { body: { ok: false, reason: 'utf8' }, transfer: [] };
  let value: unknown;
  try {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    value = secureJsonParse(text, { protoAction: 'error', constructorAction: 'error' });
  } catch {
    return { body: { ok: false, reason: 'json' }, transfer: [] };
  }
  const decoded: DecodedImage[] = [];
  const transfer: ArrayBuffer[] = [];
  const decode = (text: unknown): unknown => {
    if (images === undefined || typeof text !== 'string' || text.length < MIN_DECODED_CHARS) return text;
    const result = base64Bytes(text);
    const mediaType = dataUrlMediaType(text);
    const image: DecodedImage = { ...(mediaType === undefined ? {} : { mediaType }) };
    if (typeof result === 'string') image.fault = result;
    else {
      image.bytes = owned(result);
      transfer.push(image.bytes.buffer as ArrayBuffer);
    }
    decoded.push(image);
    return `${images.marker}${decoded.length - 1}`;
  };
  if (images !== undefined && isRecord(value)) {
    if (typeof value.image === 'string') value.image = decode(value.image);
    const list = value.images;
    if (Array.isArray(list) && list.length <= images.maxItems) list.forEach((item, i) => (list[i] = decode(item)));
  }
  return { body: { ok: true, value, images: decoded }, transfer };
}
