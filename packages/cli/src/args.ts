/**
 * Command-line parsing shared by every command (node:util parseArgs): the common flags, the image rendering
 * flags, numbers checked against their bounds, and --help. A usage mistake is a UsageError (exit status 2).
 */
import { parseArgs } from 'node:util';
import type { ParseArgsOptionsConfig } from 'node:util';
import { UnimedClient } from './client.ts';
import type { ImageOptions } from './client.ts';
import type { Progress } from './progress.ts';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An expected failure with a message for the user and no stack (exit status 1). */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

export const COMMON_OPTIONS = {
  url: { type: 'string' },
  model: { type: 'string' },
  'api-key': { type: 'string' },
  concurrency: { type: 'string' },
  retries: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export const COMMON_HELP = `Common options:
  --url URL           the service (default $UNIMED_URL, else http://localhost:8080)
  --model ID          a model the service serves (default: its default model)
  --api-key KEY       sent as "Authorization: Bearer KEY" (default $UNIMED_API_KEY)
  --concurrency N     requests in flight at once, 1-64 (default 4)
  --retries N         retries of a request answered 503 or 429 (honouring Retry-After) or not answered at
                      all, with backoff doubling from 0.5 s up to 30 s (default 6)
  -h, --help          this help`;

export const IMAGE_OPTIONS = {
  window: { type: 'string' },
  'window-center': { type: 'string' },
  'window-width': { type: 'string' },
  frame: { type: 'string' },
  page: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export const IMAGE_HELP = `Rendering options (sent with every image; see docs/dicom.md):
  --window PRESET     ct-soft-tissue, ct-lung, ct-bone, ct-brain or ct-liver
  --window-center C --window-width W   an explicit window in modality units (HU for CT)
  --frame N           frame of multi-frame DICOM objects (without it, "embed" gives every frame a row of its
                      own, and "eval" and "search" are refused such an object)
  --page N            page of multi-page TIFFs (default 0)`;

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/**
 * Parses `argv` against the common options plus `options`. Prints `help` and returns undefined for --help.
 */
export function parse(
  argv: string[],
  options: ParseArgsOptionsConfig,
  help: string,
  positionals = false,
): { values: Values; positionals: string[] } | undefined {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help === true) {
    process.stdout.write(help.trimEnd() + '\n');
    return undefined;
  }
  return parsed;
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(values: Values, name: string): string {
  const v = str(values, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
}

export function int(values: Values, name: string, fallback: number, min: number, max: number): number {
  const raw = str(values, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function num(values: Values, name: string): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
  return n;
}

/** The rendering flags as the API names them (the service checks their values and combinations). */
export function imageOptions(values: Values): ImageOptions {
  const out: ImageOptions = {};
  const window = str(values, 'window');
  if (window !== undefined) out.window = window as ImageOptions['window'];
  const center = num(values, 'window-center');
  const width = num(values, 'window-width');
  if ((center === undefined) !== (width === undefined)) throw new UsageError('--window-center and --window-width go together');
  if (center !== undefined) out.window_center = center;
  if (width !== undefined) out.window_width = width;
  const frame = str(values, 'frame');
  if (frame !== undefined) out.frame = int(values, 'frame', 0, 0, 1_000_000);
  const page = str(values, 'page');
  if (page !== undefined) out.page = int(values, 'page', 0, 0, 1_000_000);
  return out;
}

export interface Common {
  client: UnimedClient;
  model: string | undefined;
  concurrency: number;
}

/** The client for the common options; retries are told through `progress` (or stderr) once it exists. */
export function common(values: Values, progress: () => Progress | undefined): Common {
  const url = str(values, 'url') ?? process.env.UNIMED_URL ?? 'http://localhost:8080';
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  }
  const client = new UnimedClient({
    url,
    apiKey: str(values, 'api-key') ?? process.env.UNIMED_API_KEY,
    retries: int(values, 'retries', 6, 0, 100),
    onRetry: (e) => {
      const line = `retrying ${e.path} in ${(e.delayMs / 1000).toFixed(1)} s (${e.reason}; attempt ${e.attempt})`;
      const p = progress();
      if (p === undefined) process.stderr.write(line + '\n');
      else p.log(line);
    },
  });
  return { client, model: str(values, 'model'), concurrency: int(values, 'concurrency', 4, 1, 64) };
}
