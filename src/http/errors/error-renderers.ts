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

/** The OpenAI API's error body: `type` by status class, `param` the input at fault, `code` the catalogue's code. */
export interface OpenAIErrorBody {
  error: { message: string; type: 'invalid_request_error' | 'server_error'; param: string | null; code: ErrorCode };
}

/**
 * `{"error": {"message", "type", "param", "code"}}` for OpenAI-style routes. OpenAI's clients choose their
 * exception by the HTTP status, so `type` only tells the request's fault (4xx) from the server's (5xx).
 */
export const renderOpenAI: ErrorRenderer<OpenAIErrorBody> = ({ status, code, message, field }) => ({
  error: {
    message: printable(message),
    type: status < 500 ? 'invalid_request_error' : 'server_error',
    param: field === undefined ? null : printable(field),
    code,
  },
});

/** The Open Inference Protocol's error body. */
export interface OpenInferenceErrorBody {
  error: string;
}

/** `{"error": "<message>"}` for Open Inference Protocol (KServe v2) routes, which have no code or field. */
export const renderOpenInference: ErrorRenderer<OpenInferenceErrorBody> = ({ message }) => ({ error: printable(message) });

/** The renderer of a request that matched no route, by its path: the protocol's own shape under `/v2`. */
export function rendererForPath(path: string): ErrorRenderer {
  return path === '/v2' || path.startsWith('/v2/') ? renderOpenInference : renderNative;
}
