import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { installBodyAdmission } from './http/body-admission.ts';
import { installErrorHandling } from './http/error-handler.ts';
import { installLingeringClose } from './http/lingering-close.ts';
import { installRequestContext, requestId } from './http/request-context.ts';
import { healthRoutes } from './http/routes/health.ts';
import { inferenceRoutes } from './http/routes/inference.ts';
import { modelRoutes } from './http/routes/models.ts';
import { registerApiSchemas } from './http/schemas.ts';
import { ServiceState } from './http/state.ts';
import { clientErrorHandler, serverTimeoutOptions } from './http/timeouts.ts';
import { closeDecoderPool, configureDecoderPool } from './inputs/dicom/index.ts';
import type { ModelProvider } from './http/state.ts';
import { Metrics } from './metrics.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Lifecycle (registry, draining, in-flight count) shared by the routes and the server entry. */
    unimed: ServiceState;
  }
}

export interface AppOptions {
  config: Config;
  logger?: Logger;
  metrics?: Metrics;
  /** Models to serve; without one the app answers /healthz and 503 elsewhere until `app.unimed.setRegistry`. */
  registry?: ModelProvider;
}

/** Request logs carry who and what, never bodies, query strings, texts or image bytes (`destination`: tests capture it). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Builds the service's Fastify instance without listening, so tests can inject or listen on port 0. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const metrics = options.metrics ?? new Metrics();
  const state = new ServiceState();
  if (options.registry !== undefined) state.setRegistry(options.registry);

  // Typed as Fastify's base logger so the instance has the default type every plugin expects.
  const logger: FastifyBaseLogger = options.logger ?? createLogger(config.logLevel);
  const app = Fastify({
    loggerInstance: logger,
    // One log line per request comes from our onResponse hook (route, status, duration), none from Fastify.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    bodyLimit: config.limits.bodyBytes,
    genReqId: requestId,
    requestIdHeader: false,
    // close() comes only after the drain (server.ts waits for in-flight requests within the grace period), so
    // whatever connection is still open then is cut rather than holding shutdown for a keep-alive timeout.
    forceCloseConnections: true,
    // Slow clients: whole request within HTTP_REQUEST_TIMEOUT_MS (else 408), idle and keep-alive limits.
    ...serverTimeoutOptions(config.http),
    clientErrorHandler: clientErrorHandler(logger),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  app.decorate('unimed', state);
  // The decoder pool is process-wide; its threads are created on first use and end with the app.
  configureDecoderPool({ threads: config.decoderThreads });
  app.addHook('onClose', async () => {
    await closeDecoderPool();
  });

  registerApiSchemas(app);
  installErrorHandling(app);
  installRequestContext(app, { state, metrics, requestTimeoutMs: config.requestTimeoutMs });
  installBodyAdmission(app, config.limits.bodyBytes);
  installLingeringClose(app, { ms: config.http.lingerMs, bytes: config.http.lingerBytes });

  await app.register(healthRoutes({ state, metrics }));
  await app.register(modelRoutes({ state }));
  await app.register(inferenceRoutes({ state, config, metrics }));
  return app;
}
