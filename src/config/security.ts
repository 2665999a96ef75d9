import { createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { type ApiKey, checkDistinct, parseApiKeysFile, parseApiKeysVariable } from './api-keys.ts';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { boolean, ConfigError, duration, type Env, fileText, integer, list, optionalInteger, path, text } from './env.ts';
import { allowedHosts, type HostPolicy } from './hosts.ts';

/** Access control, data protection and the listeners (docs/security.md "API keys"). */
export interface SecurityConfig {
  /** Keys from API_KEYS; fixed for the life of the process. */
  envKeys: ApiKey[];
  /** API_KEYS_FILE, re-read when it changes; its keys as read at start. */
  keysFile: { path: string; keys: ApiKey[] } | undefined;
  /** REQUIRE_AUTH: refuse to start without any key (the manifests set it). */
  requireAuth: boolean;
  /** METRICS_PORT: /metrics on its own listener (and 404 on the API port); unset: on the API port. */
  metricsPort: number | undefined;
  /** CORS_ORIGINS: origins (scheme://host[:port]) that may call from a browser; any other Origin gets 403. */
  corsOrigins: string[];
  /**
   * TLS_CERT_FILE + TLS_KEY_FILE: serve HTTPS, reloading them when they change; TLS_CIPHERS the suites offered
   * (TLS 1.2 at least), HSTS_MAX_AGE_SECONDS the Strict-Transport-Security max-age sent (unset: none).
   */
  tls: { certFile: string; keyFile: string; ciphers: string; hstsMaxAgeSeconds: number | undefined } | undefined;
  /** AUDIT_LOG: `stdout` or the path of a file the audit lines are appended to. */
  auditLog: 'stdout' | { file: string };
  /**
   * AUDIT_HASH_SECRET_FILE: the key of the HMAC-SHA256 that logs carry in place of values a client chose (its
   * X-Request-Id). Unset: a random key for this process, so its hashes match nothing after a restart. A KeyObject,
   * so that printing the configuration prints no secret.
   */
  auditHash: { key: KeyObject; fromFile: boolean };
  /** AUTH_FAILURE_LIMIT wrong keys per client address within AUTH_FAILURE_WINDOW_MS; past it, 429 until the window ends. 0: no limit. */
  authFailures: { limit: number; windowMs: number };
  /** TRUSTED_PROXIES: addresses or CIDR subnets whose X-Forwarded-For names the client. */
  trustedProxies: string[];
  /** ALLOWED_HOSTS, or its default for keys or none at start: the Host names answered, others 421 (config/hosts.ts). */
  allowedHosts: HostPolicy;
}

/** Whether any API key is configured at start (API_KEYS, or API_KEYS_FILE as read then): the defaults that depend on keys are chosen by it. */
export const keysAtStart = (security: SecurityConfig): boolean => security.envKeys.length + (security.keysFile?.keys.length ?? 0) > 0;

function proxies(env: Env): string[] {
  return list(env, 'TRUSTED_PROXIES', []).map((entry) => {
    const [address = '', bits, extra] = entry.split('/');
    const family = isIP(address);
    const maxBits = family === 6 ? 128 : 32;
    if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits)))
      throw new ConfigError(`TRUSTED_PROXIES: "${entry}" is not an IP address or a CIDR subnet such as 10.0.0.0/8`);
    return entry;
  });
}

const MIN_SECRET_CHARS = 16;

function auditHash(env: Env, cwd: string): SecurityConfig['auditHash'] {
  const file = path(env, 'AUDIT_HASH_SECRET_FILE', cwd);
  if (file === undefined) return { key: createSecretKey(randomBytes(32)), fromFile: false };
  // A trailing newline (echo, a Secret written by hand) is not part of the secret: `openssl dgst -hmac` takes it without.
  const secret = fileText(file, 'AUDIT_HASH_SECRET_FILE', { maxChars: 4096 }).replace(/\r?\n$/, '');
  if (secret.length < MIN_SECRET_CHARS)
    throw new ConfigError(`AUDIT_HASH_SECRET_FILE ${file} holds fewer than ${MIN_SECRET_CHARS} characters`);
  return { key: createSecretKey(Buffer.from(secret, 'utf8')), fromFile: true };
}

function origins(env: Env): string[] {
  return list(env, 'CORS_ORIGINS', []).map((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw new ConfigError(`CORS_ORIGINS: "${origin}" is not an origin such as https://viewer.example.org or http://localhost:3000`);
    }
    return origin;
  });
}

/**
 * Mozilla's "intermediate" profile without its DHE suites: ECDHE key exchange with AEAD ciphers for TLS 1.2, and
 * the TLS 1.3 suites (which Node negotiates only when the list names them). No static-RSA key exchange, no CBC.
 */
export const DEFAULT_TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** TLS 1.0 and 1.1 are refused whatever the ciphers. */
export const TLS_MIN_VERSION = 'TLSv1.2';

function ciphers(env: Env): string {
  const chosen = text(env, 'TLS_CIPHERS') ?? DEFAULT_TLS_CIPHERS;
  try {
    createSecureContext({ ciphers: chosen, minVersion: TLS_MIN_VERSION });
  } catch (err) {
    throw new ConfigError(`TLS_CIPHERS: "${chosen}" is not an OpenSSL cipher list Node accepts: ${(err as Error).message}`);
  }
  return chosen;
}

/** `port`: PORT, which the metrics listener must not take. */
export function securityConfig(env: Env, cwd: string, port: number): SecurityConfig {
  const apiKeys = text(env, 'API_KEYS');
  const envKeys = apiKeys === undefined ? [] : parseApiKeysVariable(apiKeys);
  const keysPath = path(env, 'API_KEYS_FILE', cwd);
  const keysFile =
    keysPath === undefined ? undefined : { path: keysPath, keys: parseApiKeysFile(fileText(keysPath, 'API_KEYS_FILE'), keysPath) };
  checkDistinct([...envKeys, ...(keysFile?.keys ?? [])]);
  const requireAuth = boolean(env, 'REQUIRE_AUTH', false);
  const anyKey = envKeys.length + (keysFile?.keys.length ?? 0) > 0;
  if (requireAuth && !anyKey) {
    throw new ConfigError('REQUIRE_AUTH=true but no API key is configured: set API_KEYS_FILE or API_KEYS');
  }

  const metricsPort = optionalInteger(env, 'METRICS_PORT', 0, 65535);
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError(`METRICS_PORT (${metricsPort}) must differ from PORT`);
  }

  const certFile = path(env, 'TLS_CERT_FILE', cwd);
  const keyFile = path(env, 'TLS_KEY_FILE', cwd);
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither');

  const audit = text(env, 'AUDIT_LOG') ?? 'stdout';
  return {
    envKeys,
    keysFile,
    requireAuth,
    metricsPort,
    corsOrigins: origins(env),
    tls:
      certFile !== undefined && keyFile !== undefined
        ? { certFile, keyFile, ciphers: ciphers(env), hstsMaxAgeSeconds: optionalInteger(env, 'HSTS_MAX_AGE_SECONDS', 0) }
        : undefined,
    auditLog: audit === 'stdout' ? 'stdout' : { file: resolve(cwd, audit) },
    auditHash: auditHash(env, cwd),
    authFailures: { limit: integer(env, 'AUTH_FAILURE_LIMIT', 20, 0), windowMs: duration(env, 'AUTH_FAILURE_WINDOW_MS', 60_000, 1000) },
    trustedProxies: proxies(env),
    allowedHosts: allowedHosts(env, anyKey),
  };
}
