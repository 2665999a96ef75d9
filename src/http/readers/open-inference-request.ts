/**
 * The Open Inference Protocol's (KServe v2) inference request: a JSON object, optionally followed in the same body
 * by raw tensor bytes (the binary tensor data extension: `Inference-Header-Content-Length` gives the JSON's length,
 * each binary input's `parameters.binary_data_size` its bytes, in input order). The body is bounded like any
 * other (MAX_BODY_BYTES, by the parser); this module only splits it and reads the tensors out of it.
 */
import { isUtf8 } from 'node:buffer';
import type { FastifyRequest } from 'fastify';
import { badRequest } from '../../errors.ts';
import { isRecord } from '../../records.ts';

/** The header that announces binary tensor data after the JSON. */
export const BINARY_HEADER = 'inference-header-content-length';

/** One input tensor as the request declares it (openapi.yaml `InferenceRequestInput`). */
export interface TensorInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

/** The request (openapi.yaml `InferenceRequest`), as the route's schema has checked it. */
export interface InferenceRequestBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: TensorInput[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/** What followed the JSON, and the whole body's length (a text model takes less than MAX_BODY_BYTES). */
interface BodyTail {
  binary: Buffer;
  bodyBytes: number;
}
const tails = new WeakMap<FastifyRequest, BodyTail>();

type ParseJson = (request: FastifyRequest, text: string, done: (err: Error | null, body?: unknown) => void) => unknown;

/**
 * A content-type parser (over the body as a Buffer) for `application/json` and `application/octet-stream`: with
 * `Inference-Header-Content-Length` the JSON is that many bytes and the rest is binary tensor data; without it
 * the whole body is the JSON (octet-stream needs the header). `parseJson` is Fastify's own JSON parser.
 */
export function inferenceBodyParser(parseJson: ParseJson) {
  return (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void): void => {
    const declared = request.headers[BINARY_HEADER];
    let jsonLength = body.length;
    if (declared !== undefined) {
      const text = Array.isArray(declared) ? '' : declared.trim();
      if (!/^\d{1,15}$/.test(text) || Number(text) > body.length) {
        done(badRequest(`${BINARY_HEADER} must be the length of the JSON at the start of the body (${body.length} bytes)`));
        return;
      }
      jsonLength = Number(text);
    } else if (!(request.headers['content-type'] ?? '').toLowerCase().includes('json')) {
      done(badRequest(`a body of binary tensor data needs the ${BINARY_HEADER} header (the length of its JSON)`));
      return;
    }
    const json = body.subarray(0, jsonLength);
    if (!isUtf8(json)) {
      done(badRequest('the JSON of the request is not valid UTF-8'));
      return;
    }
    tails.set(request, { binary: body.subarray(jsonLength), bodyBytes: body.length });
    void parseJson(request, json.toString('utf8'), done);
  };
}

/** The bytes the body held, for a route with a smaller limit than the parser's. */
export const bodyBytes = (request: FastifyRequest): number => tails.get(request)?.bodyBytes ?? 0;

/** Hands out the binary tensor data in order; `finish` refuses bytes no input claimed. */
export class BinaryData {
  #offset = 0;
  readonly #bytes: Buffer;

  constructor(request: FastifyRequest) {
    this.#bytes = tails.get(request)?.binary ?? Buffer.alloc(0);
  }

  take(size: number, input: string): Buffer {
    if (this.#offset + size > this.#bytes.length) {
      const left = this.#bytes.length - this.#offset;
      throw badRequest(`input "${input}" declares binary_data_size ${size} but only ${left} bytes of binary data are left`);
    }
    const out = this.#bytes.subarray(this.#offset, this.#offset + size);
    this.#offset += size;
    return out;
  }

  finish(): void {
    const left = this.#bytes.length - this.#offset;
    if (left > 0) throw badRequest(`${left} bytes of binary data follow the JSON that no input's binary_data_size accounts for`);
  }
}

/** The elements of a BYTES tensor in binary form: each a 4-byte little-endian length, then that many bytes. */
function bytesElements(data: Buffer, input: string): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    if (at + 4 > data.length) throw badRequest(`input "${input}": binary BYTES data ends inside an element's 4-byte length`);
    const length = data.readUInt32LE(at);
    if (at + 4 + length > data.length) throw badRequest(`input "${input}": binary BYTES element ${out.length} is longer than the data`);
    out.push(data.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return out;
}

/** JSON tensor data, flat or nested as the shape, in row-major order. */
function flatten(data: unknown[], depth: number, input: string): unknown[] {
  if (depth > 32) throw badRequest(`input "${input}": data is nested deeper than its shape`);
  return data.flatMap((item) => (Array.isArray(item) ? flatten(item, depth + 1, input) : [item]));
}

/** One element of a BYTES tensor: the string as sent in JSON, or the bytes as sent in binary. */
export type BytesElement = string | Buffer;

/**
 * The elements of a BYTES input, from its JSON `data` or its binary data, checked against its shape: the
 * shape's product is their count. `count` is that product (checked by the caller against its own limits first,
 * before anything is decoded).
 */
export function bytesTensor(input: TensorInput, binary: BinaryData): BytesElement[] {
  const count = elementCount(input);
  const size = input.parameters?.binary_data_size;
  let elements: BytesElement[];
  if (size !== undefined) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw badRequest(`input "${input.name}": parameters.binary_data_size must be a non-negative integer`);
    if (input.data !== undefined) throw badRequest(`input "${input.name}" has both data and binary_data_size; send one`);
    elements = bytesElements(binary.take(size, input.name), input.name);
  } else {
    if (input.data === undefined) throw badRequest(`input "${input.name}" has no data (nor parameters.binary_data_size)`);
    const flat = flatten(input.data, 0, input.name);
    const notString = flat.findIndex((item) => typeof item !== 'string');
    if (notString >= 0)
      throw badRequest(`input "${input.name}": element ${notString} is not a string (BYTES elements are strings in JSON)`);
    elements = flat as string[];
  }
  if (elements.length !== count)
    throw badRequest(`input "${input.name}": shape [${input.shape.join(', ')}] holds ${count} elements but ${elements.length} were sent`);
  return elements;
}

/** The number of elements the input's shape holds. */
export function elementCount(input: TensorInput): number {
  return input.shape.reduce((product, dim) => product * dim, 1);
}

/** A text element: UTF-8 in binary form. */
export function textElement(element: BytesElement, input: string, index: number): string {
  if (typeof element === 'string') return element;
  if (!isUtf8(element)) throw badRequest(`input "${input}": element ${index} is not valid UTF-8`);
  return element.toString('utf8');
}

/** A parameter of the request or an input, when it is a string. */
export function stringParameter(parameters: unknown, name: string): string | undefined {
  const value = isRecord(parameters) ? parameters[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}
