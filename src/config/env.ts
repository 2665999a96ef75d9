/**
 * The parsers of the configuration (src/config.ts and src/config/*.ts): one per kind of value. Each reads one
 * variable, takes an unset or blank one for its default, and refuses anything else it cannot read with a
 * ConfigError that names the variable.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/** Largest duration accepted (a day); also keeps Node's timers far from their 2^31 ms limit. */
export const MAX_TIMEOUT_MS = 86_400_000;

/** The value without surrounding blanks; undefined when unset or blank. */
export function text(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** An integer in [min, max]; undefined when unset (for a variable whose absence means something of its own). */
export function optionalInteger(env: Env, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = text(env, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${env[name]}"`);
  }
  return value;
}

export function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  return optionalInteger(env, name, min, max) ?? fallback;
}

/** Milliseconds, an integer in [min, max]; at most a day. */
export function duration(env: Env, name: string, fallback: number, min: number, max = MAX_TIMEOUT_MS): number {
  return integer(env, name, fallback, min, Math.min(max, MAX_TIMEOUT_MS));
}

const TRUE = new Set(['1', 'true']);
const FALSE = new Set(['0', 'false']);

/** A switch: 1, 0, true or false, in any case (docs/configuration.md). */
export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (TRUE.has(raw)) return true;
  if (FALSE.has(raw)) return false;
  throw new ConfigError(`${name} must be true or false (or 1 or 0, in any case), got "${env[name]}"`);
}

/** Comma-separated items, each trimmed; empty items are dropped. */
export function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A file path, resolved against the working directory; undefined when unset. */
export function path(env: Env, name: string, cwd: string): string | undefined {
  const raw = text(env, name);
  return raw === undefined ? undefined : resolve(cwd, raw);
}

/**
 * The text of a file the configuration names, read relative to `cwd`. One that cannot be read, or holds more than
 * `maxChars`, is a ConfigError naming `what` and the path as given, never the content (it may be a secret).
 */
export function fileText(file: string, what: string, { cwd = '.', maxChars = Infinity } = {}): string {
  let content: string;
  try {
    content = readFileSync(resolve(cwd, file), 'utf8');
  } catch (err) {
    throw new ConfigError(`${what} ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (content.length > maxChars) throw new ConfigError(`${what} ${file} is larger than ${maxChars} bytes`);
  return content;
}

/** A file the system may or may not provide (cgroup files): its text without surrounding blanks, or undefined. */
export function systemFileText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}
