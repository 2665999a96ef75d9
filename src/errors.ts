import { type CodeWithStatus, type ErrorCode, isClientFault } from './error-catalogue.ts';

export type { CodeWithStatus, ErrorCode } from './error-catalogue.ts';

export interface ServiceErrorOptions {
  /** Seconds for a Retry-After header (503 only). */
  retryAfterSeconds?: number;
  cause?: unknown;
  /** The request input at fault (`error.field`), as the API names it: `image`, `labels`, `window`, ... */
  field?: string;
}

/**
 * An error the service answers with: a code from the catalogue (src/error-catalogue.ts) and a message, never an
 * HTTP status. Every layer throws these; only src/http/errors/error-handler.ts maps the code to a status and renders it.
 */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  /** Seconds for a Retry-After header (503 only). */
  readonly retryAfterSeconds: number | undefined;
  /** The request input at fault (`error.field`), as the API names it: `image`, `labels`, `window`, ... */
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options?: ServiceErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.field = options?.field;
  }
}

/** The options of `err` (field, Retry-After, cause), to rebuild it with a change. */
function optionsOf(err: ServiceError): ServiceErrorOptions {
  return {
    ...(err.field === undefined ? {} : { field: err.field }),
    ...(err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds }),
    ...(err.cause === undefined ? {} : { cause: err.cause }),
  };
}

/**
 * `err` naming the request input it is about (`error.field`), when it is a client error that names none yet;
 * any other error is returned as it is. The innermost code that knows the input names it, so it is never renamed.
 */
export function inField<E>(field: string, err: E): E | ServiceError {
  if (!(err instanceof ServiceError) || err.field !== undefined || !isClientFault(err.code)) return err;
  return new ServiceError(err.code, err.message, { ...optionsOf(err), field });
}

/**
 * `err` with its message prefixed by where it happened (`image 2: ...`, `slice 4: ...`), keeping its code,
 * field, Retry-After and cause; any other error is returned as it is.
 */
export function withContext<E>(context: string, err: E): E | ServiceError {
  if (!(err instanceof ServiceError)) return err;
  return new ServiceError(err.code, `${context}: ${err.message}`, optionsOf(err));
}

/** A parameter is missing, malformed or out of range (400). */
export const badRequest = (message: string, code: CodeWithStatus<400> = 'bad_request'): ServiceError => new ServiceError(code, message);
/** Unknown model, prompt set or DICOM object (404). */
export const notFound = (message: string, code: CodeWithStatus<404>): ServiceError => new ServiceError(code, message);
/** Over a configured size limit (413). */
export const tooLarge = (message: string, code: CodeWithStatus<413> = 'too_large'): ServiceError => new ServiceError(code, message);
/** A media type the service does not accept (415). */
export const unsupportedMediaType = (message: string, code: CodeWithStatus<415> = 'unsupported_media_type'): ServiceError =>
  new ServiceError(code, message);
/** A supported media type whose content cannot be decoded (422). */
export const undecodable = (message: string, code: CodeWithStatus<422> = 'undecodable'): ServiceError => new ServiceError(code, message);
/** Overloaded, not ready, shutting down, or a worker failed while holding the request (503). */
export const unavailable = (message: string, code: CodeWithStatus<503>, retryAfterSeconds?: number): ServiceError =>
  new ServiceError(code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
/** The request's deadline passed before its result was ready (504). */
export const deadlineExceeded = (message = 'the request deadline passed before inference finished'): ServiceError =>
  new ServiceError('deadline_exceeded', message);
/** The client went away; nothing is sent, the work is dropped. `running`: its work had reached a worker. */
export class CancelledError extends Error {
  readonly running: boolean;

  constructor(message = 'the client disconnected before the work ran', running = false) {
    super(message);
    this.name = 'CancelledError';
    this.running = running;
  }
}
