import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { RequestOptions } from '../models/types.ts';
import { SERVICE_VERSION } from '../version.ts';
import type { ServiceState } from './state.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Cancellation and deadline for the engine: aborted when the client goes away before the reply. */
    work: RequestOptions;
  }
}

/** A caller's request id is echoed only when it cannot smuggle anything into headers or logs. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Per-request plumbing for every route: identifying headers (set first, so errors carry them too), the
 * abort signal and deadline handed to the engine, the request log line and the HTTP duration metric.
 */
export function installRequestContext(app: FastifyInstance, deps: { state: ServiceState; metrics: Metrics; requestTimeoutMs: number }): void {
  const { state, metrics, requestTimeoutMs } = deps;
  app.decorateRequest('work', null as unknown as RequestOptions);

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    void reply.header('x-request-id', request.id);
    void reply.header('x-service-version', SERVICE_VERSION);
    const registry = state.registry;
    if (registry !== undefined) {
      // Routes that pick another model overwrite it; until then it names the model that would answer.
      void reply.header('x-model-sha256', registry.get().sha256);
    }
    const controller = new AbortController();
    request.work = { signal: controller.signal, deadline: Date.now() + requestTimeoutMs };
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    done();
  });

  app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.httpRequestDuration.observe({ route, method: request.method, status_code: String(reply.statusCode) }, seconds);
    request.log.info({ route, method: request.method, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    done();
  });
}
