/**
 * A small typed client for a running unimed-serve, for the `unimed` commands and for anyone's own scripts:
 *
 *   import { UnimedClient } from '@unimed-serve/cli/client';
 *   const client = new UnimedClient({ url: 'http://localhost:8080', apiKey: process.env.UNIMED_API_KEY });
 *   const { body } = await client.classify({ bytes: readFileSync('examples/ct.dcm'), name: 'ct.dcm' }, { prompt_set: 'modality' });
 *
 * Request and response types come from ./api.d.ts, which openapi-typescript generates from openapi.yaml
 * (`npm run api-types -w packages/cli`; test/cli/api-types.test.ts fails when the two differ), so they cannot
 * drift from the API the service validates against. Answers 503 and 429 are retried, honouring Retry-After,
 * with capped exponential backoff; so are connection failures (every call here is safe to repeat). Any other
 * non-2xx answer is thrown as an ApiError carrying the service's `{"error": {code, message}}`.
 */
import type { components } from './api.d.ts';

type Schemas = components['schemas'];
export type EmbedTextResponse = Schemas['EmbedTextResponse'];
export type EmbedImageResponse = Schemas['EmbedImageResponse'];
export type ClassifyRequest = Schemas['ClassifyRequest'];
export type ClassifyResponse = Schemas['ClassifyResponse'];
export type ModelsResponse = Schemas['ModelsResponse'];
export type ModelInfo = Schemas['ModelInfo'];
export type PromptSetsResponse = Schemas['PromptSetsResponse'];
export type PromptSetInfo = Schemas['PromptSetInfo'];
export type Preprocessing = Schemas['Preprocessing'];
export type ErrorBody = Schemas['Error'];

/** The rendering parameters every image route takes (they apply to every image of a request). */
export type ImageOptions = Pick<Schemas['EmbedImageRequest'], 'window' | 'window_center' | 'window_width' | 'frame' | 'page'>;

/** What to classify against: inline labels (and templates) or a named prompt set. */
export type ClassifyOptions = Pick<ClassifyRequest, 'labels' | 'templates' | 'prompt_set' | 'top_k' | 'model'> & ImageOptions;

/** One image file. `name` is only sent as the part's file name (and makes a `.dcm` part `application/dicom`). */
export interface ImageInput {
  bytes: Uint8Array;
  name?: string;
  /** The part's content type; by default application/dicom for *.dcm / *.dicom, else application/octet-stream. */
  type?: string;
}

/** A successful answer with the headers that say who answered. */
export interface Answer<T> {
  body: T;
  /** X-Model-Sha256: the model that answered (matters behind a load balancer during a rollout). */
  modelSha256: string | undefined;
  requestId: string | undefined;
}

export interface ClientOptions {
  /** Base URL of the service, e.g. http://localhost:8080. */
  url: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  /** Retries after a 503, 429 or connection failure before giving up (default 6). */
  retries?: number;
  /** First backoff when the answer has no Retry-After (default 500 ms; doubled each time). */
  backoffMs?: number;
  /** Longest wait between attempts, Retry-After included (default 30 s). */
  maxBackoffMs?: number;
  /** Per attempt (default 120 s). */
  timeoutMs?: number;
  /** Told before each retry (the CLI prints it). */
  onRetry?: (event: RetryEvent) => void;
}

export interface RetryEvent {
  path: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

/** A non-2xx answer from the service (after retries), or a failure to reach it. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The service's own message (the error body's `message`). */
  readonly detail: string;
  /** The input at fault when the service named it (the error body's `field`: `frame`, `image`, ...). */
  readonly field: string | undefined;

  /** status 0: no HTTP answer at all (connection refused, reset, timed out). */
  constructor(status: number, code: string, detail: string, field?: string) {
    super(status === 0 ? detail : `${status} ${code}: ${detail}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;
  }
}

const RETRIED = new Set([429, 503]);

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function partType(image: ImageInput): string {
  if (image.type !== undefined) return image.type;
  return /\.(dcm|dicom)$/i.test(image.name ?? '') ? 'application/dicom' : 'application/octet-stream';
}

function appendFields(form: FormData, fields: object): void {
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      // A label may be {name, text}: then the whole list goes as one JSON field, which the service also takes.
      if (value.some((v) => typeof v !== 'string')) form.append(name, JSON.stringify(value));
      else for (const v of value as string[]) form.append(name, v);
    } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      form.append(name, String(value));
    }
  }
}

export class UnimedClient {
  readonly url: string;
  readonly #options: Required<Omit<ClientOptions, 'apiKey' | 'onRetry' | 'url'>> & Pick<ClientOptions, 'apiKey' | 'onRetry'>;

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.#options = {
      retries: options.retries ?? 6,
      backoffMs: options.backoffMs ?? 500,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
      timeoutMs: options.timeoutMs ?? 120_000,
      apiKey: options.apiKey,
      onRetry: options.onRetry,
    };
  }

  models(): Promise<Answer<ModelsResponse>> {
    return this.#json('GET', '/models');
  }

  promptSets(model?: string): Promise<Answer<PromptSetsResponse>> {
    return this.#json('GET', model === undefined ? '/prompt-sets' : `/prompt-sets?model=${encodeURIComponent(model)}`);
  }

  embedText(texts: string[], model?: string): Promise<Answer<EmbedTextResponse>> {
    return this.#json('POST', '/embed/text', () => ({ body: JSON.stringify({ texts, model }), type: 'application/json' }));
  }

  /** One multipart request with every image as an `image` part, in order. */
  embedImages(images: ImageInput[], options: ImageOptions & { model?: string | undefined } = {}): Promise<Answer<EmbedImageResponse>> {
    return this.#json('POST', '/embed/image', () => {
      const form = new FormData();
      for (const image of images) form.append('image', new Blob([image.bytes], { type: partType(image) }), image.name ?? 'image');
      appendFields(form, options);
      return { body: form };
    });
  }

  classify(image: ImageInput, options: ClassifyOptions): Promise<Answer<ClassifyResponse>> {
    return this.#json('POST', '/classify', () => {
      const form = new FormData();
      form.append('image', new Blob([image.bytes], { type: partType(image) }), image.name ?? 'image');
      appendFields(form, options);
      return { body: form };
    });
  }

  /**
   * Sends a request, retrying 503/429 and connection failures. `body` is called per attempt (a FormData is
   * consumed by sending it).
   */
  async #json<T>(method: string, path: string, body?: () => { body: string | FormData; type?: string }): Promise<Answer<T>> {
    const { retries, backoffMs, maxBackoffMs, timeoutMs, apiKey, onRetry } = this.#options;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (apiKey !== undefined && apiKey !== '') headers.authorization = `Bearer ${apiKey}`;
      const payload = body?.();
      if (payload?.type !== undefined) headers['content-type'] = payload.type;
      let res: Response;
      try {
        res = await fetch(this.url + path, { method, headers, body: payload?.body ?? null, signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        const reason = connectionFailure(error);
        if (attempt >= retries) throw new ApiError(0, 'unreachable', `${method} ${this.url}${path}: ${reason}`);
        const delayMs = Math.min(maxBackoffMs, backoffMs * 2 ** attempt);
        onRetry?.({ path, attempt: attempt + 1, delayMs, reason });
        await new Promise((r) => setTimeout(r, delayMs));
        continue;
      }
      if (res.ok) {
        return {
          body: (await res.json()) as T,
          modelSha256: res.headers.get('x-model-sha256') ?? undefined,
          requestId: res.headers.get('x-request-id') ?? undefined,
        };
      }
      const error = await errorOf(res);
      if (!RETRIED.has(res.status) || attempt >= retries) throw error;
      const delayMs = Math.min(maxBackoffMs, retryAfterMs(res.headers.get('retry-after')) ?? backoffMs * 2 ** attempt);
      onRetry?.({ path, attempt: attempt + 1, delayMs, reason: `${res.status} ${error.code}` });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}

function connectionFailure(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const parsed = JSON.parse(text) as Partial<ErrorBody>;
    if (parsed.error !== undefined) return new ApiError(res.status, parsed.error.code, parsed.error.message, parsed.error.field);
  } catch {
    // not JSON (a proxy's page): reported as it is, cut short
  }
  return new ApiError(res.status, 'http_error', text.slice(0, 200) || res.statusText);
}
