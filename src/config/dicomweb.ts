/**
 * DICOMweb sources (DICOMWEB_SOURCES; the series limits are in config/limits.ts). Sources are named: a request
 * names one, never a URL, so only the servers configured here are ever contacted. Secrets are read from files at
 * start and appear in no message (a message names the file, never what it holds).
 */
import { parse as parseYaml } from 'yaml';
import { ConfigError, type Env, fileText, MAX_TIMEOUT_MS, text } from './env.ts';
import { isRecord } from '../records.ts';

export interface DicomwebSource {
  name: string;
  /** The service root (e.g. http://pacs:8042/dicom-web), without a trailing slash; every request URL starts with it. */
  url: URL;
  /** The Authorization header value, when the source takes credentials. */
  authorization: string | undefined;
  timeoutMs: number;
  /** Requests to this source at once, from the whole service. */
  concurrency: number;
  /** PEM certificates trusted for an https source instead of the system's. */
  ca: string | undefined;
}

export interface DicomwebConfig {
  sources: ReadonlyMap<string, DicomwebSource>;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SOURCE_KEYS = new Set(['url', 'auth', 'timeout_ms', 'concurrency', 'ca_file']);
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_CONCURRENCY = 4;
const MAX_SECRET_BYTES = 64 * 1024;

/** Secrets and the sources file are small; a CA bundle may not be (the system's is some 200 KiB). */
function readText(path: string, what: string, cwd: string): string {
  return fileText(path, what, { cwd, maxChars: what.endsWith('.ca_file') ? Infinity : MAX_SECRET_BYTES });
}

/** A secret file's content without its final line break; an empty one is an error (a missing secret, mounted empty). */
function secret(path: unknown, what: string, cwd: string): string {
  if (typeof path !== 'string' || path === '') throw new ConfigError(`${what} must be the path of a file`);
  const value = readText(path, what, cwd).replace(/\r?\n$/, '');
  if (value === '' || /[\r\n]/.test(value)) throw new ConfigError(`${what} ${path} must hold one non-empty line`);
  return value;
}

function authorization(auth: unknown, where: string, cwd: string): string | undefined {
  if (auth === undefined) return undefined;
  if (!isRecord(auth)) throw new ConfigError(`${where}.auth must be an object`);
  if (auth.type === 'basic') {
    const extra = Object.keys(auth).find((k) => !['type', 'username', 'password_file'].includes(k));
    if (extra !== undefined) throw new ConfigError(`${where}.auth: unknown key "${extra}" (basic takes username, password_file)`);
    if (typeof auth.username !== 'string' || auth.username === '' || auth.username.includes(':')) {
      throw new ConfigError(`${where}.auth.username must be a non-empty string without ":"`);
    }
    const password = secret(auth.password_file, `${where}.auth.password_file`, cwd);
    return `Basic ${Buffer.from(`${auth.username}:${password}`).toString('base64')}`;
  }
  if (auth.type === 'bearer') {
    const extra = Object.keys(auth).find((k) => !['type', 'token_file'].includes(k));
    if (extra !== undefined) throw new ConfigError(`${where}.auth: unknown key "${extra}" (bearer takes token_file)`);
    return `Bearer ${secret(auth.token_file, `${where}.auth.token_file`, cwd)}`;
  }
  throw new ConfigError(`${where}.auth.type must be "basic" or "bearer"`);
}

function bounded(value: unknown, where: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${where} must be an integer between ${min} and ${max}`);
  }
  return value;
}

function sourceUrl(value: unknown, where: string): URL {
  let url: URL;
  try {
    url = new URL(typeof value === 'string' ? value : '');
  } catch {
    throw new ConfigError(`${where}.url must be an http or https URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${where}.url must be an http or https URL`);
  if (url.username !== '' || url.password !== '')
    throw new ConfigError(`${where}.url must not hold credentials: use auth with password_file`);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`${where}.url must have no query or fragment`);
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

function source(name: string, value: unknown, cwd: string): DicomwebSource {
  const where = `DICOMWEB_SOURCES.${name}`;
  if (!NAME.test(name))
    throw new ConfigError(`DICOMWEB_SOURCES: source name "${name.slice(0, 80)}" must be 1-64 characters of A-Z a-z 0-9 _ . -`);
  if (!isRecord(value)) throw new ConfigError(`${where} must be an object`);
  const extra = Object.keys(value).find((k) => !SOURCE_KEYS.has(k));
  if (extra !== undefined) throw new ConfigError(`${where}: unknown key "${extra}" (accepted: ${[...SOURCE_KEYS].join(', ')})`);
  if (value.ca_file !== undefined && typeof value.ca_file !== 'string') throw new ConfigError(`${where}.ca_file must be a path`);
  return {
    name,
    url: sourceUrl(value.url, where),
    authorization: authorization(value.auth, where, cwd),
    timeoutMs: bounded(value.timeout_ms, `${where}.timeout_ms`, DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS),
    concurrency: bounded(value.concurrency, `${where}.concurrency`, DEFAULT_CONCURRENCY, 1, 256),
    ca: value.ca_file === undefined ? undefined : readText(value.ca_file, `${where}.ca_file`, cwd),
  };
}

/** DICOMWEB_SOURCES: a JSON object, or the path of a JSON or YAML file holding one. */
function sources(env: Env, cwd: string): Map<string, DicomwebSource> {
  const raw = text(env, 'DICOMWEB_SOURCES');
  if (raw === undefined) return new Map();
  const inline = raw.startsWith('{') || raw.startsWith('[');
  let parsed: unknown;
  try {
    parsed = inline ? JSON.parse(raw) : parseYaml(readText(raw, 'DICOMWEB_SOURCES file', cwd));
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ConfigError(`DICOMWEB_SOURCES is not valid ${inline ? 'JSON' : 'JSON or YAML'}`);
  }
  if (!isRecord(parsed)) throw new ConfigError('DICOMWEB_SOURCES must be an object of named sources');
  return new Map(Object.entries(parsed).map(([name, value]) => [name, source(name, value, cwd)]));
}

export function dicomwebConfig(env: Env, cwd: string): DicomwebConfig {
  return { sources: sources(env, cwd) };
}
