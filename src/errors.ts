/**
 * Errors that carry their HTTP meaning. Every layer throws these; only the HTTP error handler turns them
 * into responses (`{"error": {"code", "message"}}`), so the engine and decoders stay free of HTTP.
 */
export class ServiceError extends Error {
  readonly statusCode: number;
  readonly code: string;
  /** Seconds for a Retry-After header (503 only). */
  readonly retryAfterSeconds: number | undefined;
  /** The request input at fault (`error.field`), as the API names it: `image`, `labels`, `window`, ... */
  readonly field: string | undefined;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    options?: { retryAfterSeconds?: number; cause?: unknown; field?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.statusCode = statusCode;
    this.code = code;
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.field = options?.field;
  }
}

/**
 * `err` naming the request input it is about (`error.field`), when it is a client error that names none yet;
 * any other error is returned as it is. The innermost code that knows the input names it, so it is never renamed.
 */
export function inField<E>(field: string, err: E): E | ServiceError {
  if (!(err instanceof ServiceError) || err.field !== undefined || err.statusCode >= 500) return err;
  return new ServiceError(err.statusCode, err.code, err.message, { field, ...(err.cause === undefined ? {} : { cause: err.cause }) });
}

/** 400: a parameter is missing, malformed or out of range. */
export const badRequest = (message: string, code = 'bad_request'): ServiceError => new ServiceError(400, code, message);
/** 404: unknown model or prompt set. */
export const notFound = (message: string, code = 'not_found'): ServiceError => new ServiceError(404, code, message);
/** 413: over a configured size limit. */
export const tooLarge = (message: string, code = 'too_large'): ServiceError => new ServiceError(413, code, message);
/** 415: a media type the service does not accept. */
export const unsupportedMediaType = (message: string, code = 'unsupported_media_type'): ServiceError =>
  new ServiceError(415, code, message);
/** 422: a supported media type whose content cannot be decoded. */
export const undecodable = (message: string, code = 'undecodable'): ServiceError => new ServiceError(422, code, message);
/** 503: overloaded, not ready, shutting down, or a worker failed while holding the request. */
export const unavailable = (message: string, code = 'unavailable', retryAfterSeconds?: number): ServiceError =>
  new ServiceError(503, code, message, retryAfterSeconds === undefined ? undefined : { retryAfterSeconds });
/** 504: the request's deadline passed before its result was ready. */
export const deadlineExceeded = (message = 'the request deadline passed before inference finished'): ServiceError =>
  new ServiceError(504, 'deadline_exceeded', message);
/** The client went away; nothing is sent, the work is dropped. `running`: its work had reached a worker. */
export class CancelledError extends Error {
  readonly running: boolean;

  constructor(message = 'the client disconnected before the work ran', running = false) {
    super(message);
    this.name = 'CancelledError';
    this.running = running;
  }
}
