import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ApiKey } from '../../config/api-keys.ts';
import type { SourceGrant } from '../../dicomweb/access.ts';
import { ServiceError } from '../../errors.ts';
import { PLUGIN } from '../plugins/names.ts';
import { isPublicRoute } from './public-routes.ts';
import { AuthFailures } from './auth-failures.ts';
import { headerValues } from './client-address.ts';
import type { ApiKeyStore } from './key-store.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key the request authenticated with; null where no key is needed (public route, or no keys configured). */
    apiKey: ApiKey | null;
    /** Its id (never the key): the audit log's `key_id`, and the owner the batcher shares capacity by. */
    apiKeyId: string | undefined;
  }
}

/** What `routes=` calls a route: its URL without parameters, `/embed/image` → `embed_image`, `/prompt-sets` → `prompt_sets`. */
export function routeName(url: string): string {
  return url
    .replace(/\/:[^/]+/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

const REALM = 'Bearer realm="unimed-serve"';

function bearerToken(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}

function refuse(reply: FastifyReply, challenge: string, message: string): ServiceError {
  void reply.header('www-authenticate', challenge);
  return new ServiceError('unauthorized', message);
}

/**
 * `Authorization: Bearer <key>` on every route that is not public (src/http/security/public-routes.ts), checked before
 * the body is read: 401 without a valid key, 403 for a route the key's `routes=` does not list. With no key
 * configured the service is open. Runs after the Origin check and before body admission, admission and the rate limits.
 * Registered before the routes, whose names it collects to check keys' `routes=`.
 */
export const accessControl = fp<{ store: ApiKeyStore }>(
  (app, { store }, loaded) => {
    app.decorateRequest('apiKey', null);
    app.decorateRequest('apiKeyId', undefined);
    const { limit, windowMs } = app.config.security.authFailures;
    const failures = limit === 0 ? undefined : new AuthFailures(limit, windowMs);

    const names = new Set<string>();
    app.addHook('onRoute', (route) => {
      if (route.config?.public !== true) names.add(routeName(route.url));
    });
    const sources = app.config.dicomweb.sources;
    const checkRouteNames = (keys: readonly ApiKey[]): void => {
      for (const key of keys) {
        const unknown = (key.routes ?? []).filter((name) => !names.has(name));
        if (unknown.length > 0)
          app.log.warn({ keyId: key.id, unknown, known: [...names].sort() }, 'an API key lists routes= names that match no route');
        if ((key.sources ?? []).some((name) => name !== '*' && !sources.has(name)))
          app.log.warn({ keyId: key.id }, 'an API key lists sources= names that are not configured DICOMweb sources');
      }
      if (sources.size > 0 && keys.length > 0 && !keys.some((key) => key.sources !== undefined))
        app.log.warn(
          { sources: sources.size },
          'DICOMweb sources are configured but no API key may reach them: a key reaches a source only if its sources= names it (or *)',
        );
    };
    app.addHook('onReady', (done) => {
      if (store.size === 0)
        app.log.warn(
          'no API key is configured: every route is open (set API_KEYS_FILE or API_KEYS; REQUIRE_AUTH=true refuses to start without one)',
        );
      checkRouteNames(store.keys);
      store.watch();
      done();
    });
    store.onChange(checkRouteNames);
    app.addHook('onClose', (_app, done) => {
      store.close();
      done();
    });

    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      // (A CORS preflight, which never carries credentials, was answered before this by src/http/security/cors.ts.)
      if (store.size === 0 || isPublicRoute(request)) {
        done();
        return;
      }
      // Node keeps the first of repeated Authorization headers; a proxy may read the last: refuse the ambiguity.
      if (headerValues(request.raw, 'authorization').length > 1) {
        done(new ServiceError('bad_request', 'send one Authorization header, not several', { field: 'authorization' }));
        return;
      }
      // Guessing keys costs time: an address past its failures in the window is refused before its key is tried.
      const wait = failures?.retryAfterSeconds(request.clientAddress) ?? 0;
      if (wait > 0) {
        const message = 'too many requests with a wrong API key from this address; try again later (AUTH_FAILURE_LIMIT)';
        done(new ServiceError('rate_limited', message, { retryAfterSeconds: wait }));
        return;
      }
      const presented = bearerToken(request.headers.authorization);
      if (presented === undefined) {
        done(refuse(reply, REALM, 'an API key is required: send Authorization: Bearer <key>'));
        return;
      }
      const key = store.find(presented);
      if (key === undefined) {
        failures?.record(request.clientAddress);
        done(refuse(reply, `${REALM}, error="invalid_token"`, 'the API key is not valid'));
        return;
      }
      request.apiKey = key;
      request.apiKeyId = key.id;
      const name = routeName(request.routeOptions.url ?? request.url.split('?')[0] ?? '');
      if (key.routes !== undefined && !key.routes.includes(name)) {
        done(new ServiceError('forbidden', `this API key may not call ${name} (it may call: ${key.routes.join(', ')})`));
        return;
      }
      done();
    });
    loaded();
  },
  { name: PLUGIN.accessControl, dependencies: [PLUGIN.cors] },
);

/**
 * The DICOMweb sources the request may reach: those its key's `sources=` names (every one for `*`, none without
 * the option), every one on a service without keys. Each request made to a source goes to the audit log.
 */
export function sourceGrant(request: FastifyRequest): SourceGrant {
  const listed = request.apiKey === null ? ['*'] : (request.apiKey.sources ?? []);
  return { allowed: listed.includes('*') ? 'all' : new Set(listed), record: (access) => request.auditSourceAccess(access) };
}

/** 403 unless the request's key may use model `id` (its `models=`); every model without a key or a list. */
export function authorizeModel(request: FastifyRequest, id: string): void {
  const allowed = request.apiKey?.models;
  if (allowed !== undefined && !allowed.includes(id)) {
    throw new ServiceError('forbidden', `this API key may not use model "${id}" (it may use: ${allowed.join(', ')})`);
  }
}
