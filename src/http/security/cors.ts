import cors from '@fastify/cors';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../../errors.ts';
import { PLUGIN } from '../plugins/names.ts';

/** Headers a page may read from an answer (the rest stay hidden from cross-origin scripts). */
const EXPOSED = ['x-request-id', 'x-server-request-id', 'x-service-version', 'x-model-sha256', 'x-preprocessing', 'retry-after'];

/**
 * The page served by this service sends its own origin; the Host it called is the one to compare (scheme aside: TLS
 * may end at the ingress). That Host passed host-check.ts first: without API keys only `localhost`, IP addresses and
 * ALLOWED_HOSTS get here, so a rebinding name cannot pass for the service's own origin.
 */
function isOwnOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || !URL.canParse(origin)) return false;
  return new URL(origin).host === host.toLowerCase();
}

/**
 * Browsers send `Origin` on cross-origin requests, and a simple multipart POST from any page runs on the server
 * whatever CORS headers say; so a request from an origin not in CORS_ORIGINS (nor the service's own) is refused
 * with 403 here, before the API key is asked for and before its body is read. Listed origins get CORS headers
 * and preflights, which carry no credentials and so must be answered before access control.
 */
export const corsCheck = fp<{ allowed: readonly string[] }>(
  async (app, { allowed }) => {
    const listed = new Set(allowed);
    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      const origin = request.headers.origin;
      // @fastify/cors would answer an incomplete preflight in text/plain; it gets the service's JSON error instead.
      if (
        listed.size > 0 &&
        request.method === 'OPTIONS' &&
        (origin === undefined || request.headers['access-control-request-method'] === undefined)
      ) {
        done(new ServiceError('bad_request', 'a CORS preflight needs the Origin and Access-Control-Request-Method headers'));
        return;
      }
      if (origin === undefined || listed.has(origin) || isOwnOrigin(origin, request.headers.host)) {
        done();
        return;
      }
      done(new ServiceError('origin_not_allowed', 'requests from this origin are not allowed (CORS_ORIGINS)'));
    });
    if (listed.size === 0) return;
    await app.register(cors, {
      origin: [...listed],
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: EXPOSED,
      maxAge: 600,
      strictPreflight: true,
    });
  },
  { name: PLUGIN.cors, dependencies: [PLUGIN.hostCheck] },
);
