/** Every limit on what requests may ask of the service, one at a time and all together (docs/configuration.md "Limits"). */
import { ConfigError, type Env, integer } from './env.ts';

export interface LimitsConfig {
  /** Request body, also the multipart total; a declared Content-Length over it is refused before the body is read. */
  bodyBytes: number;
  /** Body of /embed/text (a JSON text request needs far less than bodyBytes). */
  textBodyBytes: number;
  textsPerRequest: number;
  /** Characters (code points) per text, label, template and filled prompt. */
  charsPerText: number;
  /** Tokens ([CLS] and [SEP] included, after truncation) of a request's distinct texts or prompts; past it 413 too_many_tokens. */
  tokensPerRequest: number;
  imagesPerRequest: number;
  /** labels x templates in one classify request. */
  promptsPerClassify: number;
  /** Decoded pixels (width x height) per image; sharp refuses larger inputs before decoding them. */
  imagePixels: number;
  /** Worst-case bytes one image's decode may hold; an image over it is refused (413) before decoding. */
  imageBytes: number;
  /** The decompression-bomb rule: an image decoding to over `exemptBytes` may decode to at most `ratio` x its size. */
  decompression: { ratio: number; exemptBytes: number };
  /** Inference requests in progress; past it 503 overloaded, before any body byte is read. */
  inflightRequests: number;
  /** Slices one series request may embed (`slices: "all"` or a number). */
  seriesSlices: number;
  /** Instances a series may list or a request may upload (bounds the listing and the ordering work). */
  seriesInstances: number;
}

const MIB = 1024 * 1024;

/**
 * `budgetBytes`: MEMORY_BUDGET_BYTES when set. Unset, the per-image cap follows a budget set below it; an
 * automatic budget smaller than it refuses (413) what it could never hold.
 *
 * The text defaults are sized on the bench model (docs/performance.md: about 1,000 tokens/s through its text
 * encoder on 2 cores, short or long texts alike): MAX_TOKENS_PER_REQUEST 8192 is some 8 s of its work (32 texts at
 * the full 256 tokens, or 256 short prompts). A text body of 4 MiB holds 128 texts of 4096 characters of up to 4
 * UTF-8 bytes each, with room for JSON escapes.
 */
export function limitsConfig(env: Env, budgetBytes: number | undefined): LimitsConfig {
  const bodyBytes = integer(env, 'MAX_BODY_BYTES', 32 * MIB, 1024);
  const imageBytes = integer(env, 'MAX_IMAGE_BYTES', Math.min(512 * MIB, budgetBytes ?? Infinity), 1);
  if (budgetBytes !== undefined && imageBytes > budgetBytes) {
    throw new ConfigError(
      `MAX_IMAGE_BYTES (${imageBytes}) must not exceed MEMORY_BUDGET_BYTES (${budgetBytes}): no such image could ever be decoded`,
    );
  }
  return {
    bodyBytes,
    textBodyBytes: integer(env, 'MAX_TEXT_BODY_BYTES', Math.min(bodyBytes, 4 * MIB), 1024, bodyBytes),
    textsPerRequest: integer(env, 'MAX_TEXTS_PER_REQUEST', 128, 1),
    charsPerText: integer(env, 'MAX_CHARS_PER_TEXT', 4096, 1),
    tokensPerRequest: integer(env, 'MAX_TOKENS_PER_REQUEST', 8192, 2),
    imagesPerRequest: integer(env, 'MAX_IMAGES_PER_REQUEST', 16, 1),
    // About 5 s of first-time text-encoder work on the bench model (49 short prompts/s; docs/configuration.md "Limits").
    promptsPerClassify: integer(env, 'MAX_PROMPTS_PER_CLASSIFY', 256, 1),
    imagePixels: integer(env, 'MAX_IMAGE_PIXELS', 64 * MIB, 1),
    imageBytes,
    // Blank PNG, TIFF and WebP bombs measure 500:1 to millions:1 (docs/decisions.md); JPEG is exempt (inputs/limits.ts).
    decompression: {
      ratio: integer(env, 'MAX_DECOMPRESSION_RATIO', 256, 1),
      exemptBytes: integer(env, 'DECOMPRESSION_EXEMPT_BYTES', 32 * MIB, 0),
    },
    inflightRequests: integer(env, 'MAX_INFLIGHT_REQUESTS', 128, 1, 1_000_000),
    seriesSlices: integer(env, 'MAX_SERIES_SLICES', 256, 1, 100_000),
    seriesInstances: integer(env, 'MAX_SERIES_INSTANCES', 4096, 1, 1_000_000),
  };
}
