/** How much work the service admits (README "Limits"): requests in progress, a text request's body and tokens, the text queue. */
import { ConfigError, type Env, integer } from './env.ts';

export interface WorkloadConfig {
  /** Inference requests in progress at most; past it 503 overloaded, before any body byte is read. */
  maxInflightRequests: number;
  /** Body limit of /embed/text (a JSON text request needs far less than MAX_BODY_BYTES). */
  textBodyBytes: number;
  /** Tokens ([CLS] and [SEP] included, after truncation) of a request's distinct texts or prompts at most; past it 413 too_many_tokens. */
  maxTokensPerRequest: number;
  /** Tokens waiting for a text encoder at most; past it 503 queue_full. */
  textQueueTokens: number;
}

const MIB = 1024 * 1024;

/**
 * Defaults sized on the bench model (README "Performance": about 1,000 tokens/s through its text encoder on 2
 * cores, short or long texts alike): MAX_TOKENS_PER_REQUEST 8192 is some 8 s of its work (32 texts at the full
 * 256 tokens, or 256 short prompts), and the text queue holds four such requests. A text body of 4 MiB holds 128
 * texts of 4096 characters of up to 4 UTF-8 bytes each, with room for JSON escapes.
 */
export function workloadConfig(env: Env, bodyBytes: number): WorkloadConfig {
  if (env.TEXT_MAX_QUEUE !== undefined && env.TEXT_MAX_QUEUE.trim() !== '') {
    throw new ConfigError('TEXT_MAX_QUEUE is gone: the text queue is bounded in tokens now (TEXT_MAX_QUEUE_TOKENS)');
  }
  const maxTokensPerRequest = integer(env, 'MAX_TOKENS_PER_REQUEST', 8192, 2);
  const textQueueTokens = integer(env, 'TEXT_MAX_QUEUE_TOKENS', 4 * maxTokensPerRequest, 1, 1_000_000_000);
  if (textQueueTokens < maxTokensPerRequest) {
    throw new ConfigError(
      `TEXT_MAX_QUEUE_TOKENS (${textQueueTokens}) must be at least MAX_TOKENS_PER_REQUEST (${maxTokensPerRequest}): a request within its budget must fit the queue`,
    );
  }
  return {
    maxInflightRequests: integer(env, 'MAX_INFLIGHT_REQUESTS', 128, 1, 1_000_000),
    textBodyBytes: integer(env, 'MAX_TEXT_BODY_BYTES', Math.min(bodyBytes, 4 * MIB), 1024, bodyBytes),
    maxTokensPerRequest,
    textQueueTokens,
  };
}
