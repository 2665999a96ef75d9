/**
 * multipart/related bodies (RFC 2387), as WADO-RS answers and STOW-RS sends them: the parts' bytes as views of
 * the body, no copy. Bounded by the body, which the caller has already bounded in bytes; the number of parts too.
 */

export interface RelatedPart {
  /** The part's Content-Type, lower case without parameters ('' when it has none). */
  type: string;
  data: Buffer;
}

export class MultipartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultipartError';
  }
}

/** A Content-Type's media type and parameters (lower-case names; quoted values unquoted). */
export function mediaType(header: string | undefined): { type: string; params: Map<string, string> } {
  const [type = '', ...rest] = (header ?? '').split(';');
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq < 0) continue;
    const value = param.slice(eq + 1).trim();
    params.set(
      param.slice(0, eq).trim().toLowerCase(),
      value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value,
    );
  }
  return { type: type.trim().toLowerCase(), params };
}

const CRLF = Buffer.from('\r\n');
const HEADERS_END = Buffer.from('\r\n\r\n');
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{1,70}$/;

function partType(headers: string): string {
  for (const line of headers.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'content-type') return mediaType(line.slice(colon + 1)).type;
  }
  return '';
}

/** The parts of a multipart/related body whose Content-Type header is `contentType`; at most `maxParts` of them. */
export function parseMultipartRelated(body: Buffer, contentType: string | undefined, maxParts: number): RelatedPart[] {
  const { type, params } = mediaType(contentType);
  if (type !== 'multipart/related') throw new MultipartError(`expected multipart/related, got ${type || 'no content type'}`);
  const boundary = params.get('boundary');
  if (boundary === undefined || !BOUNDARY.test(boundary)) throw new MultipartError('multipart/related without a valid boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let position = body.indexOf(delimiter);
  if (position < 0) throw new MultipartError('multipart/related body without its boundary');
  const parts: RelatedPart[] = [];
  for (;;) {
    position += delimiter.length;
    if (body[position] === 0x2d && body[position + 1] === 0x2d) return parts;
    const lineEnd = body.indexOf(CRLF, position);
    if (lineEnd < 0) throw new MultipartError('multipart/related body truncated after a boundary');
    let dataStart: number;
    let headers = '';
    if (body[lineEnd + 2] === 0x0d && body[lineEnd + 3] === 0x0a) {
      dataStart = lineEnd + 4;
    } else {
      const headersEnd = body.indexOf(HEADERS_END, lineEnd);
      if (headersEnd < 0) throw new MultipartError('multipart/related part without the end of its headers');
      headers = body.subarray(lineEnd + 2, headersEnd).toString('latin1');
      dataStart = headersEnd + 4;
    }
    const end = body.indexOf(next, dataStart);
    if (end < 0) throw new MultipartError('multipart/related body truncated (no closing boundary)');
    if (parts.length === maxParts) throw new MultipartError(`multipart/related body with more than ${maxParts} parts`);
    parts.push({ type: partType(headers), data: body.subarray(dataStart, end) });
    position = end + 2;
  }
}
