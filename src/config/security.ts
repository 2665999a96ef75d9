import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type ApiKey, checkDistinct, parseApiKeysFile, parseApiKeysVariable } from './api-keys.ts';
import { ConfigError, type Env, integer, list } from './env.ts';

/** Access control, data protection and the listeners (README "Access control and data protection"). */
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
  /** TLS_CERT_FILE + TLS_KEY_FILE: serve HTTPS, reloading them when they change. */
  tls: { certFile: string; keyFile: string } | undefined;
  /** AUDIT_LOG: `stdout` or the path of a file the audit lines are appended to. */
  auditLog: 'stdout' | { file: string };
}

function flag(env: Env, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

function readKeysFile(path: string): ApiKey[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`API_KEYS_FILE (${path}) cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseApiKeysFile(text, path);
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

export function securityConfig(env: Env, cwd: string): SecurityConfig {
  const envKeys = env.API_KEYS === undefined ? [] : parseApiKeysVariable(env.API_KEYS);
  const filePath = env.API_KEYS_FILE?.trim() ? resolve(cwd, env.API_KEYS_FILE.trim()) : undefined;
  const keysFile = filePath === undefined ? undefined : { path: filePath, keys: readKeysFile(filePath) };
  checkDistinct([...envKeys, ...(keysFile?.keys ?? [])]);
  const requireAuth = flag(env, 'REQUIRE_AUTH');
  if (requireAuth && envKeys.length + (keysFile?.keys.length ?? 0) === 0) {
    throw new ConfigError('REQUIRE_AUTH=true but no API key is configured: set API_KEYS_FILE or API_KEYS');
  }

  const metricsPort = env.METRICS_PORT?.trim() ? integer(env, 'METRICS_PORT', 0, 0, 65535) : undefined;
  if (metricsPort !== undefined && metricsPort !== 0 && metricsPort === integer(env, 'PORT', 8080, 0, 65535)) {
    throw new ConfigError(`METRICS_PORT (${metricsPort}) must differ from PORT`);
  }

  const certFile = env.TLS_CERT_FILE?.trim() || undefined;
  const keyFile = env.TLS_KEY_FILE?.trim() || undefined;
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError('TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither');
  const tls =
    certFile !== undefined && keyFile !== undefined ? { certFile: resolve(cwd, certFile), keyFile: resolve(cwd, keyFile) } : undefined;

  const audit = env.AUDIT_LOG?.trim() || 'stdout';
  return {
    envKeys,
    keysFile,
    requireAuth,
    metricsPort,
    corsOrigins: origins(env),
    tls,
    auditLog: audit === 'stdout' ? 'stdout' : { file: resolve(cwd, audit) },
  };
}
