import type { ErrorCode } from '../../error-catalogue.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The shape this route's errors take (the native one without): its own, or refusals raised before it runs. */
    errorRenderer?: ErrorRenderer;
  }
}

/**
 * An error as the service answers it, whatever shape the route answers in: the status src/http/errors/error-handler.ts
 * mapped its code to, the code, the message and the input at fault.
 */
export interface DescribedError {
  status: number;
  code: ErrorCode;
  message: string;
  /** The request input at fault (`error.field`), when known. */
  field?: string;
}

/** Turns a described error into the body of one API family; a route picks one, the vocabulary stays the catalogue's. */
export type ErrorRenderer<Body = unknown> = (error: DescribedError) => Body;

/** The native routes' body (openapi.yaml `Error`). */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string };
}

/** Control characters and lone surrogates a message may echo from the input, as `\uXXXX` text instead. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u2028\u2029]/gu;
const printable = (text: string): string => text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function errorBody(code: ErrorCode, message: string, field?: string): ErrorBody {
  return { error: { code, message: printable(message), ...(field === undefined ? {} : { field: printable(field) }) } };
}

/** `{"error": {"code", "message", "field"?}}`, the native routes' shape. */
export const renderNative: ErrorRenderer<ErrorBody> = ({ code, message, field }) => errorBody(code, message, field);

/**
 * The error `type`s of OpenAI-style APIs: the request's fault (an unknown model included, as OpenAI answers it),
 * the key's, its permissions, its rate, or the server's.
 */
export type OpenAIErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'server_error';

/** The OpenAI API's error body: `type` from OPENAI_TYPES, `param` the input at fault, `code` the catalogue's code. */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: ErrorCode };
}

/**
 * Each catalogue code's OpenAI `type`, in one table (a new code must choose one). OpenAI's clients pick their
 * exception class by the HTTP status (the catalogue's); `type` is what their users match on in the body.
 */
export const OPENAI_TYPES: Record<ErrorCode, OpenAIErrorType> = {
  bad_request: 'invalid_request_error',
  unauthorized: 'authentication_error',
  forbidden: 'permission_error',
  origin_not_allowed: 'permission_error',
  route_not_found: 'invalid_request_error',
  model_not_found: 'invalid_request_error',
  prompt_set_not_found: 'invalid_request_error',
  dicom_not_found: 'invalid_request_error',
  job_not_found: 'invalid_request_error',
  conflict: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  too_large: 'invalid_request_error',
  too_many_images: 'invalid_request_error',
  too_many_texts: 'invalid_request_error',
  too_many_prompts: 'invalid_request_error',
  too_many_tokens: 'invalid_request_error',
  text_too_long: 'invalid_request_error',
  image_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  misdirected_request: 'invalid_request_error',
  not_acceptable: 'invalid_request_error',
  undecodable: 'invalid_request_error',
  dimension_mismatch: 'invalid_request_error',
  rate_limited: 'rate_limit_error',
  headers_too_large: 'invalid_request_error',
  client_closed_request: 'invalid_request_error',
  internal_error: 'server_error',
  upstream_unavailable: 'server_error',
  store_refused: 'server_error',
  not_ready: 'server_error',
  shutting_down: 'server_error',
  overloaded: 'server_error',
  queue_full: 'server_error',
  worker_failed: 'server_error',
  inference_failed: 'server_error',
  memory_busy: 'server_error',
  jobs_unavailable: 'server_error',
  deadline_exceeded: 'server_error',
  upstream_timeout: 'server_error',
};

/** `{"error": {"message", "type", "param", "code"}}` for the OpenAI-compatible routes (`/v1/*`). */
export const renderOpenAI: ErrorRenderer<OpenAIErrorBody> = ({ code, message, field }) => ({
  error: { message: printable(message), type: OPENAI_TYPES[code], param: field === undefined ? null : printable(field), code },
});

/** The Open Inference Protocol's error body. */
export interface OpenInferenceErrorBody {
  error: string;
}

/** `{"error": "<message>"}` for Open Inference Protocol (KServe v2) routes, which have no code or field. */
export const renderOpenInference: ErrorRenderer<OpenInferenceErrorBody> = ({ message }) => ({ error: printable(message) });

/** The renderer of a request that matched no route, by its path: each protocol's own shape under `/v1` and `/v2`. */
export function rendererForPath(path: string): ErrorRenderer {
  if (path === '/v2' || path.startsWith('/v2/')) return renderOpenInference;
  if (path.startsWith('/v1/')) return renderOpenAI;
  return renderNative;
}
