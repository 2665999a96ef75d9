import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../../errors.ts';
import { PLUGIN } from '../plugins/names.ts';

/**
 * Per-key request rates (`rate=<n>/<second|minute>` on a key, docs/security.md "API keys"): counted by key id, in
 * this process only, so with N replicas a key gets up to N times its rate. Requests without a key (public
 * routes, an open service) and keys without a rate are not limited. Over the rate: 429 `rate_limited` with
 * Retry-After, before the body is read. After access control, whose key it reads; as a hook of each route
 * (@fastify/rate-limit's way), it runs after every instance hook, body admission's 413 and admission's 503 included.
 */
export const rateLimits = fp(
  async (app) => {
    const rateOf = (request: FastifyRequest) => request.apiKey?.rate;
    await app.register(rateLimit, {
      global: true,
      hook: 'onRequest',
      keyGenerator: (request) => request.apiKeyId ?? '',
      allowList: (request) => rateOf(request) === undefined,
      max: (request) => rateOf(request)?.max ?? 1,
      timeWindow: (request) => rateOf(request)?.windowMs ?? 1000,
      // Retry-After and the limit headers on a 429; the remaining count is not announced on every answer.
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': true },
      errorResponseBuilder: (request, context) =>
        new ServiceError(
          'rate_limited',
          `API key "${request.apiKeyId ?? ''}" is over its rate of ${context.max} requests per ${context.after}`,
          {
            retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
          },
        ),
    });
  },
  { name: PLUGIN.rateLimit, dependencies: [PLUGIN.accessControl] },
);
