/**
 * Every `error.code` the service answers with: its HTTP status, what it means, whether the same request may
 * succeed later, and the test that makes the service answer with it. Lower layers throw a ServiceError with one
 * of these codes and no status; src/http/errors/error-handler.ts alone turns a code into a status and a response.
 * test/error-catalogue.test.ts holds openapi.yaml's per-status code enums and each named test to this list.
 */
interface CatalogueEntry {
  readonly status: number;
  readonly meaning: string;
  /** The same request may succeed if sent again later (after Retry-After where there is one). */
  readonly retryable: boolean;
  /** The test file that produces this code and asserts it. */
  readonly test: string;
  /** false for the one code no client ever reads (it went away); openapi.yaml does not list it. */
  readonly answered?: false;
}

export const ERROR_CATALOGUE = {
  bad_request: {
    status: 400,
    meaning: 'a parameter is missing, malformed or out of range (also invalid JSON, invalid base64, unknown fields)',
    retryable: false,
    test: 'test/http/api.test.ts',
  },
  unauthorized: { status: 401, meaning: 'no API key, or not a valid one', retryable: false, test: 'test/http/security/auth.test.ts' },
  forbidden: {
    status: 403,
    meaning: 'the API key may not call this route or use this model',
    retryable: false,
    test: 'test/http/security/auth.test.ts',
  },
  origin_not_allowed: {
    status: 403,
    meaning: 'a browser page whose Origin is not in CORS_ORIGINS',
    retryable: false,
    test: 'test/http/security/cors.test.ts',
  },
  route_not_found: { status: 404, meaning: 'no route has this method and path', retryable: false, test: 'test/http/api.test.ts' },
  model_not_found: { status: 404, meaning: 'the service serves no model of this id', retryable: false, test: 'test/http/api.test.ts' },
  prompt_set_not_found: {
    status: 404,
    meaning: 'the model has no prompt set of this name',
    retryable: false,
    test: 'test/http/api.test.ts',
  },
  dicom_not_found: {
    status: 404,
    meaning: 'a DICOMweb source has no such study, series or instance',
    retryable: false,
    test: 'test/dicomweb/sources.test.ts',
  },
  job_not_found: {
    status: 404,
    meaning:
      'no job of this id for the API key (a job is seen only by the key that created it), or it was deleted after JOBS_RETENTION_HOURS',
    retryable: false,
    test: 'test/http/routes/jobs.test.ts',
  },
  not_acceptable: {
    status: 406,
    meaning:
      'Accept asks for a DICOM SR (application/dicom) of an input that cannot have one: not DICOM, or without the UIDs an SR references',
    retryable: false,
    test: 'test/http/routes/dicom-sr.test.ts',
  },
  conflict: {
    status: 409,
    meaning: 'an Idempotency-Key was sent again with another request body (POST /jobs)',
    retryable: false,
    test: 'test/http/routes/jobs.test.ts',
  },
  request_timeout: {
    status: 408,
    meaning: 'the request did not arrive within HTTP_HEADERS_TIMEOUT_MS / HTTP_REQUEST_TIMEOUT_MS',
    retryable: true,
    test: 'test/http/limits.test.ts',
  },
  too_large: {
    status: 413,
    meaning: 'the body, a file part or a DICOMweb answer is over MAX_BODY_BYTES (or a multipart count limit)',
    retryable: false,
    test: 'test/http/limits.test.ts',
  },
  too_many_images: {
    status: 413,
    meaning: 'more images or slices than MAX_IMAGES_PER_REQUEST / MAX_SERIES_SLICES',
    retryable: false,
    test: 'test/http/api.test.ts',
  },
  too_many_texts: { status: 413, meaning: 'more texts than MAX_TEXTS_PER_REQUEST', retryable: false, test: 'test/http/api.test.ts' },
  too_many_prompts: {
    status: 413,
    meaning: 'labels x templates over MAX_PROMPTS_PER_CLASSIFY',
    retryable: false,
    test: 'test/http/api.test.ts',
  },
  too_many_tokens: {
    status: 413,
    meaning: 'the texts or prompts come to more tokens than MAX_TOKENS_PER_REQUEST',
    retryable: false,
    test: 'test/http/resilience.test.ts',
  },
  text_too_long: {
    status: 413,
    meaning: 'a text, label or template is longer than MAX_CHARS_PER_TEXT',
    retryable: false,
    test: 'test/http/prompt-bounds.test.ts',
  },
  image_too_large: {
    status: 413,
    meaning: 'an image over MAX_IMAGE_PIXELS, MAX_IMAGE_BYTES, MAX_DECOMPRESSION_RATIO or the whole memory budget',
    retryable: false,
    test: 'test/http/decompression.test.ts',
  },
  unsupported_media_type: {
    status: 415,
    meaning: 'a content type, image format or DICOM transfer syntax the service does not accept',
    retryable: false,
    test: 'test/http/api.test.ts',
  },
  misdirected_request: {
    status: 421,
    meaning: 'the Host header names a host the service does not answer for (ALLOWED_HOSTS; DNS rebinding)',
    retryable: false,
    test: 'test/http/security/host-check.test.ts',
  },
  undecodable: {
    status: 422,
    meaning: 'a supported media type whose content cannot be decoded (damaged, no pixels, past DECODER_TIMEOUT_MS)',
    retryable: false,
    test: 'test/http/decoder.test.ts',
  },
  dimension_mismatch: {
    status: 422,
    meaning: 'a compressed DICOM frame whose own header contradicts Rows/Columns, refused before the codec runs',
    retryable: false,
    test: 'test/inputs/dicom/codestream.test.ts',
  },
  rate_limited: {
    status: 429,
    meaning: 'the API key is over its rate, or the client address sent too many wrong keys',
    retryable: true,
    test: 'test/http/security/auth.test.ts',
  },
  headers_too_large: {
    status: 431,
    meaning: "the request headers are over Node's limit",
    retryable: false,
    test: 'test/http/openapi/conformance.test.ts',
  },
  client_closed_request: {
    status: 499,
    meaning: 'the client went away before its result was ready (logs and metrics only)',
    retryable: false,
    test: 'test/http/errors/error-handler.test.ts',
    answered: false,
  },
  internal_error: {
    status: 500,
    meaning: 'a fault of the service itself; the message says nothing of it',
    retryable: false,
    test: 'test/http/errors/error-handler.test.ts',
  },
  upstream_unavailable: {
    status: 502,
    meaning: 'a DICOMweb source is unreachable, refused the credentials or answered something that is not DICOMweb',
    retryable: true,
    test: 'test/dicomweb/sources.test.ts',
  },
  store_refused: {
    status: 502,
    meaning: 'a DICOMweb source refused to store a result (STOW-RS answered a 4xx, or a failure, and does not hold the instance)',
    retryable: false,
    test: 'test/dicomweb/stow.test.ts',
  },
  not_ready: {
    status: 503,
    meaning: 'models are still loading, or an encoder has no live inference worker',
    retryable: true,
    test: 'test/http/lifecycle.test.ts',
  },
  shutting_down: { status: 503, meaning: 'the service is shutting down', retryable: true, test: 'test/http/shutdown.test.ts' },
  overloaded: {
    status: 503,
    meaning: 'MAX_INFLIGHT_REQUESTS requests are in progress',
    retryable: true,
    test: 'test/http/resilience.test.ts',
  },
  queue_full: {
    status: 503,
    meaning: 'an inference or decode queue is at its bound',
    retryable: true,
    test: 'test/http/decoder.test.ts',
  },
  worker_failed: {
    status: 503,
    meaning: 'the inference worker died or hung while running the request',
    retryable: true,
    test: 'test/http/lifecycle.test.ts',
  },
  inference_failed: {
    status: 503,
    meaning: 'the inference session failed or answered something that is not a batch of embeddings',
    retryable: true,
    test: 'test/http/errors/error-handler.test.ts',
  },
  memory_busy: {
    status: 503,
    meaning: 'decoding memory stayed busy past MEMORY_WAIT_MS',
    retryable: true,
    test: 'test/http/memory-budget.test.ts',
  },
  jobs_unavailable: {
    status: 503,
    meaning: 'the job database (JOBS_DATABASE_URL) cannot be reached or did not answer in time',
    retryable: true,
    test: 'test/integration/jobs-postgres.test.ts',
  },
  deadline_exceeded: {
    status: 504,
    meaning: 'the request deadline (REQUEST_TIMEOUT_MS) passed before decoding or inference finished',
    retryable: true,
    test: 'test/http/lifecycle.test.ts',
  },
  upstream_timeout: {
    status: 504,
    meaning: 'a DICOMweb source did not answer within its timeout_ms',
    retryable: true,
    test: 'test/dicomweb/sources.test.ts',
  },
} as const satisfies Record<string, CatalogueEntry>;

type Catalogue = typeof ERROR_CATALOGUE;

/** Every code the service answers with. */
export type ErrorCode = keyof Catalogue;

/** The codes whose status is `S` (for the constructors in src/errors.ts: tooLarge takes only 413 codes). */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: Catalogue[C]['status'] extends S ? C : never }[ErrorCode];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

/** A fault of the request (a 4xx code) rather than of the service or a source it depends on. */
export const isClientFault = (code: ErrorCode): boolean => ERROR_CATALOGUE[code].status < 500;
