import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DeadlineExceededError, InferenceFailedError, QueueFullError, ShuttingDownError } from '../../engine/errors.ts';
import { ERROR_CATALOGUE, type ErrorCode } from '../../error-catalogue.ts';
import { CancelledError, ServiceError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { limitViolation } from '../openapi/api-limits.ts';
import { PLUGIN } from '../plugins/names.ts';
import { renderNative, renderOpenAI, type DescribedError, type ErrorRenderer } from './error-renderers.ts';
import { PoolClosedError, PoolQueueFullError, WorkerFailedError } from '../../workers/errors.ts';

export { errorBody, type ErrorBody } from './error-renderers.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The API family whose error body the route answers with (error-renderers.ts); `native` when absent. */
    errorShape?: ErrorShape;
  }
}

/** The error bodies a route may answer with: the native routes', or OpenAI's (`/v1/*`). */
const RENDERERS = { native: renderNative, openai: renderOpenAI } satisfies Record<string, ErrorRenderer>;
export type ErrorShape = keyof typeof RENDERERS;

/**
 * The error shape of a request: its route's `errorShape`, whichever hook or handler failed (the key check's 401
 * and 403, body admission's 413 and the rate limit's 429 included); a path under `/v1/` that matches no route
 * answers as the OpenAI routes do.
 */
export function errorShapeOf(request: FastifyRequest): ErrorShape {
  const declared = request.routeOptions.config.errorShape;
  if (declared !== undefined) return declared;
  return request.is404 && request.url.startsWith('/v1/') ? 'openai' : 'native';
}

/** The HTTP status of a code: the catalogue's, read here and nowhere else in src/. */
export const statusOf = (code: ErrorCode): number => ERROR_CATALOGUE[code].status;

/** Codes for Fastify's and @fastify/multipart's own 4xx errors, so they read like the service's. */
const FRAMEWORK_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_VALIDATION: { code: 'bad_request' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_TYPE: { code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'too_large',
    message: 'the request body is larger than the route allows (MAX_BODY_BYTES; MAX_TEXT_BODY_BYTES for /embed/text)',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'bad_request', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'bad_request', message: 'the body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'bad_request' },
  FST_ERR_CTP_EMPTY_TYPE: { code: 'unsupported_media_type', message: 'the request has no Content-Type' },
  FST_REQ_FILE_TOO_LARGE: { code: 'too_large', message: 'a file part is larger than MAX_BODY_BYTES allows' },
  FST_FILES_LIMIT: { code: 'too_many_images', message: 'too many file parts' },
  FST_FIELDS_LIMIT: { code: 'too_large', message: 'too many form fields' },
  FST_PARTS_LIMIT: { code: 'too_large', message: 'too many multipart parts' },
  FST_PROTO_VIOLATION: { code: 'bad_request', message: 'a form field name is not allowed' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { code: 'unsupported_media_type', message: 'the request is not multipart' },
  FST_INVALID_JSON_FIELD_ERROR: { code: 'bad_request' },
};

/** busboy reports a malformed multipart body with a plain Error; these are the client's fault, not ours. */
const MALFORMED_MULTIPART =
  /^(Unexpected end of (form|multipart data)|Malformed part header|Multipart: Boundary not found|Part terminated early)/i;

/**
 * What a request that did not get its result counts as (docs/operations.md "Metrics"): `rejected` when none of its work
 * reached a worker (refused at the door, queue full, deadline passed or client gone while queued), `failed`
 * when its work was running and failed. Counted once per request, here, whatever the number of encoders.
 */
type Outcome = { metric: 'rejected' | 'failed'; reason: string };

interface Described extends DescribedError {
  retryAfter?: number;
  outcome?: Outcome;
}

const REFUSED_AT_THE_DOOR = new Set<ErrorCode>(['not_ready', 'shutting_down', 'overloaded', 'queue_full', 'memory_busy']);

/** A request refused by a budget: a 503 at the door (overloaded, queue full, ...) or any 413 (counted by its code). */
const refusal = (status: number, code: ErrorCode): Outcome | undefined =>
  (status === 503 && REFUSED_AT_THE_DOOR.has(code)) || status === 413 ? { metric: 'rejected', reason: code } : undefined;

/** `code` with its catalogue status; `rest` adds the message and what else is known. */
const described = (code: ErrorCode, rest: Omit<Described, 'status' | 'code'>): Described => ({ status: statusOf(code), code, ...rest });

/** The engine's and the worker pools' errors, which carry no HTTP meaning of their own. */
function describeEngineError(err: unknown): Described | undefined {
  if (err instanceof QueueFullError || err instanceof PoolQueueFullError) {
    const retryAfter = err instanceof QueueFullError ? err.retryAfterSeconds : 1;
    return described('queue_full', { message: err.message, retryAfter, outcome: { metric: 'rejected', reason: 'queue_full' } });
  }
  if (err instanceof ShuttingDownError || err instanceof PoolClosedError) {
    const outcome: Outcome = { metric: 'rejected', reason: 'shutting_down' };
    return described('shutting_down', { message: 'the service is shutting down', retryAfter: 1, outcome });
  }
  if (err instanceof DeadlineExceededError) {
    return described('deadline_exceeded', {
      message: err.message,
      outcome: { metric: err.running ? 'failed' : 'rejected', reason: 'deadline' },
    });
  }
  if (err instanceof WorkerFailedError) {
    const message = `the inference worker failed while running this request (${err.message}); it is being replaced`;
    return described('worker_failed', { message, retryAfter: 1, outcome: { metric: 'failed', reason: 'worker_failed' } });
  }
  if (err instanceof InferenceFailedError) {
    return described('inference_failed', {
      message: err.message,
      retryAfter: 1,
      outcome: { metric: 'failed', reason: 'inference_failed' },
    });
  }
  if (err instanceof CancelledError) {
    // The client is gone: the answer only reaches the logs and metrics.
    return described('client_closed_request', {
      message: err.message,
      outcome: { metric: err.running ? 'failed' : 'rejected', reason: 'client_gone' },
    });
  }
  return undefined;
}

/**
 * The input a schema validation error is about: the top-level property of its path (`/labels/0` -> labels),
 * else the property missing or not allowed (`required`, `additionalProperties`).
 */
export function validationField(err: { validation?: { instancePath?: string; params?: Record<string, unknown> }[] }): string | undefined {
  const first = err.validation?.[0];
  const top = first?.instancePath?.split('/')[1];
  if (top !== undefined && top !== '') return top;
  const named = first?.params?.missingProperty ?? first?.params?.additionalProperty;
  return typeof named === 'string' ? named : undefined;
}

/**
 * Maps any error to its status (the catalogue's, for its code), code and message: the one place in src/ that
 * does. Never exposes internals for a 5xx.
 */
export function describeError(err: unknown): Described {
  if (err instanceof ServiceError) {
    const outcome = refusal(statusOf(err.code), err.code);
    return described(err.code, {
      message: err.message,
      ...(err.field === undefined ? {} : { field: err.field }),
      ...(err.retryAfterSeconds === undefined ? {} : { retryAfter: err.retryAfterSeconds }),
      ...(outcome ? { outcome } : {}),
    });
  }
  const engine = describeEngineError(err);
  if (engine !== undefined) return engine;
  const fe = err as Partial<FastifyError> & { message?: string };
  const known = typeof fe.code === 'string' ? FRAMEWORK_CODES[fe.code] : undefined;
  if (known !== undefined) {
    // A schema limit written in from the configuration keeps its 413 code (too_many_texts, ...), not 400.
    const overLimit = fe.code === 'FST_ERR_VALIDATION' ? limitViolation(fe.validation, fe.validationContext) : undefined;
    if (overLimit !== undefined) return describeError(overLimit);
    const outcome = refusal(statusOf(known.code), known.code);
    const field = fe.code === 'FST_ERR_VALIDATION' ? validationField(fe) : undefined;
    return described(known.code, {
      message: known.message ?? fe.message ?? known.code,
      ...(field === undefined ? {} : { field }),
      ...(outcome ? { outcome } : {}),
    });
  }
  if (err instanceof SyntaxError || fe.statusCode === 400) return described('bad_request', { message: fe.message ?? 'bad request' });
  if (typeof fe.message === 'string' && MALFORMED_MULTIPART.test(fe.message))
    return described('bad_request', { message: `malformed multipart body: ${fe.message}` });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Another framework 4xx keeps the framework's own status.
    return { status: fe.statusCode, code: 'bad_request', message: fe.message ?? 'bad request' };
  }
  return described('internal_error', { message: 'internal error' });
}

/** Counts an inference request that ended in `err` in unimed_requests_rejected_total or _failed_total, once. */
export function countOutcome(metrics: Metrics, err: unknown): void {
  const { outcome } = describeError(err);
  if (outcome?.metric === 'rejected') metrics.requestsRejected.inc({ reason: outcome.reason });
  if (outcome?.metric === 'failed') metrics.requestsFailed.inc({ reason: outcome.reason });
}

/**
 * The one place errors become responses: the native `{"error": {"code", "message", "field"?}}` (OpenAI's shape
 * on the `/v1/*` routes, errorShapeOf) with the code's status and Retry-After. Client errors are logged at info with status and code only; a client that
 * went away gets nothing.
 */
export const errorHandling = fp(
  (app: FastifyInstance, _options, loaded) => {
    app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const error = describeError(err);
      const { status, code, retryAfter } = error;
      if (code === 'client_closed_request') {
        request.log.info({ reason: 'client_gone' }, 'client disconnected before the result was ready');
      } else if (status >= 500 && status !== 503 && status !== 504) {
        request.log.error({ err }, 'request failed');
      } else {
        // The message stays out of the log: parser errors quote the body (JSON.parse shows a snippet) and
        // decoder errors may name DICOM attribute values, either of which may be patient data.
        request.log.info({ status, code }, 'request refused');
      }
      if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
      return reply.code(status).send(RENDERERS[errorShapeOf(request)](error));
    });

    app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
      const code = 'route_not_found';
      const message = `no route ${request.method} ${request.url.split('?')[0] ?? ''}`;
      return reply.code(statusOf(code)).send(RENDERERS[errorShapeOf(request)]({ status: statusOf(code), code, message }));
    });
    loaded();
  },
  { name: PLUGIN.errors },
);
