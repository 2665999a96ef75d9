import { badRequest, type ServiceError } from '../errors.ts';

const DATA_URL = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)?(;[a-z0-9=.+-]+)*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes a base64 image (standard or URL-safe alphabet, optionally a `data:` URL). Line breaks and spaces are
 * skipped, as RFC 2045 encoders write them (`base64` wraps at 76 columns); any other character outside the
 * alphabet is refused: Node's decoder would silently skip it, and a corrupted upload must be a 400, not a
 * mysterious 422 from the image decoder. `what` names the value in the message (never its content).
 */
export function decodeBase64Image(text: string, what: string): Buffer {
  const bytes = base64Bytes(text);
  if (typeof bytes === 'string') throw base64Error(bytes, what);
  return bytes;
}

/** Why a base64 image was refused: found where it is decoded (a decoder thread, for a large JSON body), answered where it is read. */
export type Base64Fault = 'empty' | 'invalid' | 'truncated';

/** decodeBase64Image's decoding, its refusal as a value. */
export function base64Bytes(text: string): Buffer | Base64Fault {
  const payload = text.replace(DATA_URL, '').replace(/[ \r\n]+/g, '');
  if (payload.length === 0) return 'empty';
  const urlSafe = !BASE64.test(payload);
  if (urlSafe && !BASE64URL.test(payload)) return 'invalid';
  if (payload.replace(/=+$/, '').length % 4 === 1) return 'truncated';
  return Buffer.from(payload, urlSafe ? 'base64url' : 'base64');
}

/** The 400 for a refused base64 image; `what` names the value (never its content). */
export function base64Error(fault: Base64Fault, what: string): ServiceError {
  if (fault === 'empty') return badRequest(`${what} is empty`);
  return badRequest(fault === 'truncated' ? `${what} is not valid base64 (truncated)` : `${what} is not valid base64`);
}

/** The media type a `data:` URL declares (lower case), or undefined for plain base64. */
export function dataUrlMediaType(text: string): string | undefined {
  const match = DATA_URL.exec(text.slice(0, 256));
  return match?.[1]?.toLowerCase();
}
