/**
 * The JSON body parser of the inference routes. A body of JSON_WORKER_MIN_BYTES or more is read on a pixel
 * decoder thread (src/inputs/json-body.ts), with its base64 images decoded there on an image route (one whose
 * config says `jsonImages`); a smaller one on the HTTP thread by Fastify's own parser. Both give the same
 * answers: the same 400 for a body that is not UTF-8 or not JSON, the same body for the route's schema, the same
 * base64 refusals in the same order (image-request.ts reads the decoded images through `decodedImage`).
 */
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { errorCodes, type FastifyRequest } from 'fastify';
import { badRequest } from '../../errors.ts';
import type { PixelDecoder } from '../../inputs/decoder/pixel-decoder.ts';
import type { DecodedImage, JsonImages } from '../../inputs/json-body.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's JSON body carries base64 images in `image` or `images`: a large one has them decoded off the HTTP thread. */
    jsonImages?: boolean;
  }
}

type Done = (err: Error | null, body?: unknown) => void;
type ParseJson = (request: FastifyRequest, text: string, done: Done) => unknown;

/** Starts each decoded image's marker: a NUL (never valid base64) and a per-process nonce no client can know. */
const MARKER = `\u0000decoded-image:${randomUUID()}:`;
const decoded = new WeakMap<FastifyRequest, DecodedImage[]>();

/** The image a decoder thread decoded for this request's JSON string, if it is one of its markers. */
export function decodedImage(request: FastifyRequest, text: string): DecodedImage | undefined {
  if (!text.startsWith(MARKER)) return undefined;
  return decoded.get(request)?.[Number(text.slice(MARKER.length))];
}

const notUtf8 = (): Error => badRequest('the JSON body is not valid UTF-8');

export function jsonBodyParser(options: { decoder: PixelDecoder; minBytes: number; maxImages: number }, parseJson: ParseJson) {
  const { decoder, minBytes, maxImages } = options;
  return (request: FastifyRequest, body: Buffer, done: Done): void => {
    if (body.length < minBytes) {
      // JSON must be UTF-8 (RFC 8259): decoded as it is, broken bytes would become U+FFFD and be answered as text.
      if (!isUtf8(body)) done(notUtf8(), undefined);
      else void parseJson(request, body.toString('utf8'), done);
      return;
    }
    const images: JsonImages | undefined =
      request.routeOptions.config.jsonImages === true ? { marker: MARKER, maxItems: maxImages } : undefined;
    decoder.readJson(body, images).then(
      (read) => {
        if (!read.ok) done(read.reason === 'utf8' ? notUtf8() : new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
        else {
          decoded.set(request, read.images);
          done(null, read.value);
        }
      },
      (err: unknown) => done(err instanceof Error ? err : new Error(String(err)), undefined),
    );
  };
}
