import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerOptions as HttpServerOptions } from 'node:http';
import type { Server as HttpsServer, ServerOptions as HttpsServerOptions } from 'node:https';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import fp from 'fastify-plugin';
import type { Logger } from 'pino';
import { ConfigError } from '../../config/env.ts';
import { type SecurityConfig, TLS_MIN_VERSION } from '../../config/security.ts';
import { PLUGIN } from './names.ts';

type TlsFiles = NonNullable<SecurityConfig['tls']>;

/** The protocol settings every secure context gets, at start and on each reload (setSecureContext forgets them). */
function protocol(tls: TlsFiles): { ciphers: string; minVersion: typeof TLS_MIN_VERSION } {
  return { ciphers: tls.ciphers, minVersion: TLS_MIN_VERSION };
}

/**
 * Options for an HTTPS server with the certificate and key of TLS_CERT_FILE/TLS_KEY_FILE, read now (a missing
 * file or a pair that does not match fails the start), the suites of TLS_CIPHERS from TLS 1.2 up, plus the HTTP
 * server options the plain listener has.
 */
export function httpsServerOptions(tls: TlsFiles, http: HttpServerOptions): HttpsServerOptions {
  let pair: { cert: Buffer; key: Buffer };
  try {
    pair = { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
    createSecureContext({ ...pair, ...protocol(tls) });
  } catch (err) {
    throw new ConfigError(`TLS_CERT_FILE/TLS_KEY_FILE cannot be used: ${(err as Error).message}`);
  }
  return { ...http, ...pair, ...protocol(tls) };
}

/**
 * Strict-Transport-Security on every answer of the HTTPS listener when HSTS_MAX_AGE_SECONDS is set: a browser that
 * saw it uses HTTPS only for this host until max-age runs out (the header means nothing over plain HTTP).
 */
export const hsts = fp<{ maxAgeSeconds: number }>(
  (app, { maxAgeSeconds }, loaded) => {
    const value = `max-age=${maxAgeSeconds}`;
    app.addHook('onRequest', (_request, reply, done) => {
      reply.header('strict-transport-security', value);
      done();
    });
    loaded();
  },
  { name: PLUGIN.hsts },
);

/**
 * Reloads the certificate and key when either file changes (cert-manager and Kubernetes Secrets rewrite them,
 * the latter by swapping a symlink, so the directories are watched). New connections get the new pair; a pair
 * that does not load (one file written, the other not yet) keeps the old one until the next change. Watching
 * stops when the app closes.
 */
export const tlsReload = fp<{ tls: TlsFiles; logger: Logger }>(
  (app, { tls, logger }, loaded) => {
    const server = app.server as unknown as HttpsServer;
    let current = '';
    let reading = false;
    let again = false;
    const reload = async (): Promise<void> => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        const [cert, key] = await Promise.all([readFile(tls.certFile), readFile(tls.keyFile)]);
        const joined = `${cert.toString('base64')}.${key.toString('base64')}`;
        if (joined !== current) {
          server.setSecureContext({ cert, key, ...protocol(tls) });
          current = joined;
          logger.info('TLS certificate reloaded');
        }
      } catch (err) {
        logger.warn({ reason: (err as Error).message }, 'TLS certificate or key changed but cannot be loaded yet; the one in force stays');
      } finally {
        reading = false;
        if (again) {
          again = false;
          void reload();
        }
      }
    };
    const watchers: FSWatcher[] = [...new Set([dirname(tls.certFile), dirname(tls.keyFile)])].map((dir) =>
      watch(dir, { persistent: false }, () => void reload()).on('error', (err) =>
        logger.warn({ err }, 'TLS: watching the certificate directory failed'),
      ),
    );
    app.addHook('onClose', (_app, done) => {
      for (const w of watchers) w.close();
      done();
    });
    loaded();
  },
  { name: PLUGIN.tlsReload },
);
