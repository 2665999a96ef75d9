import type { FastifyPluginCallback } from 'fastify';
import { unavailable } from '../../errors.ts';
import type { ServiceState } from '../plugins/state.ts';
import { PUBLIC } from '../security/public-routes.ts';
import { ref } from '../openapi/schemas.ts';

/** Liveness and readiness: answered on the HTTP thread from state alone, never by a worker; open without a key. */
export const healthRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { serviceState: state } = app;

  app.get('/healthz', { config: PUBLIC, schema: { response: { 200: ref('HealthResponse') } } }, () => ({ status: 'ok' as const }));

  app.get('/readyz', { config: PUBLIC, schema: { response: { 200: ref('ReadyResponse') } } }, () => ({
    status: 'ready' as const,
    models: readyModels(state),
  }));
  done();
};

/**
 * The models served, once the service is ready to run them: else the 503 (not_ready or shutting_down) that
 * explains why not. Readiness of /readyz and of the Open Inference Protocol's /v2/health/ready.
 */
export function readyModels(state: ServiceState): string[] {
  const registry = state.acceptWork();
  const models = registry.list().map((m) => m.id);
  // A model whose workers are all dead (or whose replacements keep failing) could only queue work until its deadline.
  const stalled = models.find((id) => !registry.get(id).live());
  if (stalled !== undefined)
    throw unavailable(`model ${stalled} has an encoder with no live inference worker; replacements are being started`, 'not_ready', 5);
  return models;
}
