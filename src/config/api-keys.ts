import { createHash } from 'node:crypto';
import { ConfigError } from './env.ts';

/** One API key as the service holds it: its SHA-256 only, never the key itself. */
export interface ApiKey {
  /** Names the caller in the audit log and the metrics; never secret. */
  id: string;
  /** SHA-256 of the key. */
  sha256: Buffer;
  /** Requests allowed per window, per pod; none: unlimited. */
  rate?: { max: number; windowMs: number };
  /** Model ids this key may use; none: every model. */
  models?: string[];
  /** Route names (docs/security.md "API keys") this key may call; none: every route. */
  routes?: string[];
  /** DICOMweb sources (DICOMWEB_SOURCES names, or `*` for all) this key may reach; none: no source at all. */
  sources?: string[];
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/i;
const ROUTE_NAME = /^[a-z0-9_]{1,64}$/;
const SOURCE_NAME = /^([A-Za-z0-9._-]{1,64}|\*)$/;
/** Short keys can be guessed; 16 characters of a random alphabet are far out of reach. */
export const MIN_KEY_LENGTH = 16;
const WINDOWS: Record<string, number> = { second: 1000, minute: 60_000 };

export function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Why a line is refused; its caller adds where the line is. The message never quotes the line (it holds a key). */
class LineError extends Error {}

function parseOption(key: ApiKey, option: string): void {
  const eq = option.indexOf('=');
  const name = eq < 0 ? option : option.slice(0, eq);
  const value = eq < 0 ? '' : option.slice(eq + 1);
  if (!['rate', 'models', 'routes', 'sources'].includes(name))
    throw new LineError('unknown option (known: rate=, models=, routes=, sources=)');
  if (key[name as 'rate' | 'models' | 'routes' | 'sources'] !== undefined) throw new LineError(`option ${name}= given twice`);
  if (name === 'rate') {
    const match = /^(\d{1,9})\/(second|minute)$/.exec(value);
    const max = Number(match?.[1]);
    if (match === null || max < 1) throw new LineError('rate= must be <n>/second or <n>/minute with n >= 1');
    key.rate = { max, windowMs: WINDOWS[match[2]!]! };
    return;
  }
  const items = value.split(',').filter((s) => s !== '');
  if (items.length === 0) throw new LineError(`${name}= lists nothing`);
  if (name === 'routes') {
    if (!items.every((r) => ROUTE_NAME.test(r))) throw new LineError('routes= takes route names such as classify, embed_image');
    key.routes = items;
  } else if (name === 'sources') {
    if (!items.every((r) => SOURCE_NAME.test(r))) throw new LineError('sources= takes DICOMWEB_SOURCES names, or * for all of them');
    key.sources = items;
  } else {
    key.models = items;
  }
}

function parseLine(line: string): ApiKey {
  const [credential = '', ...options] = line.split(/\s+/);
  const colon = credential.indexOf(':');
  if (colon < 0) throw new LineError('expected id:key or id:sha256:<hex>');
  const id = credential.slice(0, colon);
  const secret = credential.slice(colon + 1);
  if (!KEY_ID.test(id)) throw new LineError('the key id must be 1-64 characters of A-Z a-z 0-9 . _ -');
  let hash: Buffer;
  if (secret.startsWith('sha256:')) {
    const hex = secret.slice('sha256:'.length);
    if (!SHA256_HEX.test(hex)) throw new LineError('sha256: must be followed by 64 hexadecimal digits');
    hash = Buffer.from(hex, 'hex');
  } else {
    if (secret.length < MIN_KEY_LENGTH) throw new LineError(`the key is shorter than ${MIN_KEY_LENGTH} characters`);
    hash = sha256(secret);
  }
  const key: ApiKey = { id, sha256: hash };
  for (const option of options) parseOption(key, option);
  return key;
}

/**
 * Parses key entries (`id:key` or `id:sha256:<hex>`, then ` rate=`, ` models=`, ` routes=`, ` sources=`). Errors name the
 * source and the entry's number, never its text. `what` says what a number counts ("line", "entry").
 */
export function parseApiKeys(entries: string[], source: string, what: string): ApiKey[] {
  const keys: ApiKey[] = [];
  entries.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${source} ${what} ${index + 1}`;
    let key: ApiKey;
    try {
      key = parseLine(line);
    } catch (err) {
      if (err instanceof LineError) throw new ConfigError(`${where}: ${err.message}`);
      throw err;
    }
    keys.push(key);
  });
  return keys;
}

/** Every id once and every key once, across all sources together. */
export function checkDistinct(keys: ApiKey[]): void {
  const ids = new Set<string>();
  const hashes = new Set<string>();
  for (const key of keys) {
    if (ids.has(key.id)) throw new ConfigError(`API key id "${key.id}" is given twice`);
    const hex = key.sha256.toString('hex');
    if (hashes.has(hex)) throw new ConfigError(`API key "${key.id}" is the same key as another one`);
    ids.add(key.id);
    hashes.add(hex);
  }
}

/** The lines of an API_KEYS_FILE. */
export function parseApiKeysFile(text: string, file: string): ApiKey[] {
  return parseApiKeys(text.split(/\r?\n/), `API_KEYS_FILE (${file})`, 'line');
}

/**
 * API_KEYS: entries separated by commas. A list option (models=a,b) holds commas too, so a comma starts a new
 * entry only where what follows it reads `<key id>:` (a model id with a colon in such a list needs the file).
 */
export function parseApiKeysVariable(value: string): ApiKey[] {
  return parseApiKeys(value.split(/,(?=\s*[A-Za-z0-9._-]+:)/), 'API_KEYS', 'entry');
}
