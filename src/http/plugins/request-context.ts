import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { SERVICE_VERSION } from '../../version.ts';
import { auditHash } from '../security/audit-hash.ts';
import { PLUGIN } from './names.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's life: aborted when the client goes away before the reply, and its deadline. Part of the work
     * context the use cases run with (http/plugins/admission.ts builds it once).
     */
    lifetime: { readonly signal: AbortSignal; readonly deadline: number };
    /**
     * HMAC-SHA256 (AUDIT_HASH_SECRET_FILE) of the caller's sane X-Request-Id, null without one: what the logs
     * carry of it, so whoever knows the id can find its lines, and an id a client filled with an MRN is not logged.
     */
    callerRequestIdHash: string | null;
  }
}

/** The header naming the model that answered (docs/api.md). */
export const MODEL_HEADER = 'x-model-sha256';

/** The header naming the service's own id of the request, the one its log lines carry (docs/api.md). */
export const SERVER_REQUEST_ID_HEADER = 'x-server-request-id';

/** A caller's request id is echoed only when it cannot smuggle anything into headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function callerRequestId(req: IncomingMessage): string | undefined {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : undefined;
}

/** `request.id`, the id in every log line: always the service's own, never a value the caller chose. */
export function requestId(): string {
  return randomUUID();
}

/**
 * Per-request plumbing for every route: identifying headers (set first, so errors carry them too), the
 * request's lifetime (abort signal, deadline), the request log line and the HTTP duration metric. The first
 * onRequest hook, so that every answer, a refusal by any later hook included, carries the request id.
 */
export const requestContext = fp(
  (app, _options, loaded) => {
    const { serviceState: state, metrics, config } = app;
    const hashKey = config.security.auditHash.key;
    app.decorateRequest('lifetime', null as unknown as FastifyRequest['lifetime']);
    app.decorateRequest('callerRequestIdHash', null);

    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
      const callers = callerRequestId(request.raw);
      request.callerRequestIdHash = callers === undefined ? null : auditHash(hashKey, callers);
      // The caller's id is echoed as documented; the service's own names the request in its logs.
      void reply.header('x-request-id', callers ?? request.id);
      void reply.header(SERVER_REQUEST_ID_HEADER, request.id);
      void reply.header('x-service-version', SERVICE_VERSION);
      const controller = new AbortController();
      request.lifetime = Object.freeze({ signal: controller.signal, deadline: Date.now() + config.requestTimeoutMs });
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) controller.abort();
      });
      done();
    });

    // A route that picks a model names it when it picks it; every other answer, errors included (but a 401), names
    // the default model, once models are loaded. Set here, on the way out, so no answer gets the header twice.
    app.addHook(
      'onSend',
      (_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
        const registry = state.registry;
        // A caller refused for want of a valid key learns nothing of the models served.
        const refused = reply.statusCode === 401;
        if (registry !== undefined && !refused && !reply.hasHeader(MODEL_HEADER)) void reply.header(MODEL_HEADER, registry.get().sha256);
        // Draining: keep-alive clients are told to take their next request elsewhere, so connections end with the drain.
        if (state.draining) void reply.header('connection', 'close');
        done(null, payload);
      },
    );

    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const seconds = reply.elapsedTime / 1000;
      metrics.httpRequestDuration.observe({ route, method: request.method, status_code: String(reply.statusCode) }, seconds);
      request.log.info(
        {
          route,
          method: request.method,
          status: reply.statusCode,
          durationMs: Math.round(reply.elapsedTime * 10) / 10,
          callerRequestIdHash: request.callerRequestIdHash,
        },
        'request',
      );
      done();
    });
    loaded();
  },
  { name: PLUGIN.requestContext, dependencies: [PLUGIN.service] },
);
