import { createHash, timingSafeEqual } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { type ApiKey, checkDistinct, parseApiKeysFile, sha256 } from '../../config/api-keys.ts';
import { ConfigError } from '../../config/env.ts';

/**
 * The API keys in force: those of API_KEYS, plus those of API_KEYS_FILE, re-read whenever that file changes
 * (the directory is watched too: a Kubernetes Secret update swaps a symlink rather than writing the file). A
 * file that fails to parse keeps the keys in force and logs a warning naming the line, never its text.
 */
export class ApiKeyStore {
  readonly #envKeys: ApiKey[];
  readonly #file: string | undefined;
  readonly #logger: Logger;
  #keys: ApiKey[];
  #fileDigest = '';
  #watcher: FSWatcher | undefined;
  #reading: Promise<void> | undefined;
  #again = false;
  #listeners: ((keys: readonly ApiKey[]) => void)[] = [];

  constructor(envKeys: ApiKey[], file: { path: string; keys: ApiKey[] } | undefined, logger: Logger) {
    this.#envKeys = envKeys;
    this.#file = file?.path;
    this.#keys = [...envKeys, ...(file?.keys ?? [])];
    this.#logger = logger;
  }

  /** No key at all: the service is open (README says when that is allowed). */
  get size(): number {
    return this.#keys.length;
  }

  get keys(): readonly ApiKey[] {
    return this.#keys;
  }

  /** Called with the new keys after each successful reload. */
  onChange(listener: (keys: readonly ApiKey[]) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * The key whose SHA-256 is that of `presented`, compared in constant time against every key (no early exit),
   * so the answer's timing says nothing about how close a guess came or which key matched.
   */
  find(presented: string): ApiKey | undefined {
    const hash = sha256(presented);
    let found: ApiKey | undefined;
    for (const key of this.#keys) {
      if (timingSafeEqual(hash, key.sha256)) found = key;
    }
    return found;
  }

  /** Starts watching API_KEYS_FILE's directory; does nothing without a file. */
  watch(): void {
    if (this.#file === undefined || this.#watcher !== undefined) return;
    const name = basename(this.#file);
    // Any change in the directory may be the file or a symlink it resolves through (Kubernetes' ..data).
    this.#watcher = watch(dirname(this.#file), { persistent: false }, () => this.#reload(name));
    this.#watcher.on('error', (err) => this.#logger.warn({ err }, 'API_KEYS_FILE: watching its directory failed; keys stay as they are'));
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  /** Reads the file again; overlapping events coalesce into one more read once the running one ends. */
  #reload(name: string): void {
    if (this.#reading !== undefined) {
      this.#again = true;
      return;
    }
    this.#reading = this.#readOnce(name).finally(() => {
      this.#reading = undefined;
      if (this.#again) {
        this.#again = false;
        this.#reload(name);
      }
    });
  }

  async #readOnce(name: string): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      this.#logger.warn({ file: name, code: (err as NodeJS.ErrnoException).code }, 'API_KEYS_FILE cannot be read; the keys in force stay');
      return;
    }
    const digest = createHash('sha256').update(text).digest('hex');
    if (digest === this.#fileDigest) return;
    try {
      const fileKeys = parseApiKeysFile(text, file);
      const keys = [...this.#envKeys, ...fileKeys];
      checkDistinct(keys);
      // An edit must not turn a protected service into an open one; with no key at start it was open already.
      if (keys.length === 0 && this.#keys.length > 0) throw new ConfigError(`API_KEYS_FILE (${file}) would leave no API key at all`);
      this.#keys = keys;
      this.#fileDigest = digest;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#logger.warn({ reason: err.message }, 'API_KEYS_FILE changed but is not valid; the keys in force stay');
      return;
    }
    this.#logger.info({ keys: this.#keys.length, ids: this.#keys.map((k) => k.id) }, 'API keys reloaded');
    for (const listener of this.#listeners) listener(this.#keys);
  }
}
