import type { FastifyPluginCallback } from 'fastify';
import { ref } from '../schemas.ts';

/** Liveness, readiness and metrics: answered on the HTTP thread from state alone, never by a worker. */
export const healthRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { unimed: state, metrics } = app;

  app.get('/healthz', { schema: { response: { 200: ref('HealthResponse') } } }, () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { response: { 200: ref('ReadyResponse') } } }, () => {
    // acceptWork throws the 503 (not_ready or shutting_down) that explains why not.
    const registry = state.acceptWork();
    return { status: 'ready' as const, models: registry.list().map((m) => m.id) };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  done();
};
