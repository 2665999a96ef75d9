import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import type { HostPolicy } from '../../config/hosts.ts';
import type { Metrics } from '../../metrics.ts';
import { errorBody } from '../errors/error-handler.ts';
import { checkMetricsListenerHost } from '../security/host-check.ts';

/** GET /metrics: the Prometheus text exposition of `metrics`. */
export const metricsRoutes: FastifyPluginCallback<{ metrics: Metrics }> = (app, { metrics }, done) => {
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  done();
};

/**
 * The metrics listener of METRICS_PORT: /metrics alone, on its own port, so the Service and load balancer in
 * front of the API never expose it (the network policy lets only Prometheus reach this port). Needs no key; the
 * Host is checked as on the API port (`hosts`: ALLOWED_HOSTS), a scrape of the pod's IP address always passes.
 */
export async function buildMetricsListener(metrics: Metrics, logger: Logger, hosts: HostPolicy): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({ loggerInstance, disableRequestLogging: true, forceCloseConnections: true });
  checkMetricsListenerHost(app, hosts);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('route_not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
  await app.register(metricsRoutes, { metrics });
  return app;
}
