import Fastify, { LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { Config } from './config.ts';
import { DicomwebSources } from './dicomweb/sources.ts';
import { errorHandling } from './http/errors/error-handler.ts';
import { bodyAdmission } from './http/plugins/body-admission.ts';
import { serviceDecorations } from './http/plugins/decorators.ts';
import { lingeringClose } from './http/plugins/lingering-close.ts';
import { requestContext, requestId } from './http/plugins/request-context.ts';
import { hsts, httpsServerOptions, tlsReload } from './http/plugins/tls.ts';
import { accessControl } from './http/security/access-control.ts';
import { auditLog } from './http/security/audit.ts';
import { corsCheck } from './http/security/cors.ts';
import { hostCheck } from './http/security/host-check.ts';
import { ApiKeyStore } from './http/security/key-store.ts';
import { rateLimits } from './http/security/rate-limit.ts';
import { tracing } from './http/tracing/install.ts';
import { docsRoutes } from './http/routes/docs.ts';
import { healthRoutes } from './http/routes/health.ts';
import { inferenceRoutes } from './http/routes/inference.ts';
import { jobsRoutes } from './http/routes/jobs.ts';
import { watchesPlugin } from './http/routes/watches.ts';
import { metricsRoutes } from './http/routes/metrics.ts';
import { modelRoutes } from './http/routes/models.ts';
import { openInferenceRoutes } from './http/routes/open-inference.ts';
import { openaiModelRoutes } from './http/routes/openai.ts';
import { pageRoutes } from './http/routes/page.ts';
import { registerApiSchemas } from './http/openapi/schemas.ts';
import { ServiceState } from './http/plugins/state.ts';
import { clientErrorHandler, serverTimeoutOptions } from './http/plugins/timeouts.ts';
import { PixelDecoder } from './inputs/decoder/pixel-decoder.ts';
import { createMemoryBudget } from './inputs/memory-budget-size.ts';
import type { ModelProvider } from './http/plugins/state.ts';
import { Metrics } from './metrics.ts';

export interface AppOptions {
  config: Config;
  logger?: Logger;
  metrics?: Metrics;
  /** Models to serve; without one the app answers /healthz and 503 elsewhere until `app.serviceState.setRegistry`. */
  registry?: ModelProvider;
  /** Threads for DICOM and wide PNG/TIFF, made from config when not given; the app starts it and closes it with itself. */
  decoder?: PixelDecoder;
  /** Where audit lines go instead of AUDIT_LOG's target (tests capture them). */
  auditDestination?: pino.DestinationStream;
}

/** Request logs carry who and what, never bodies, query strings, texts or image bytes (`destination`: tests capture it). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // @fastify/multipart logs every request header at trace level (`busboyOptions`), the API key among them.
    redact: { paths: ['busboyOptions.headers', '*.headers.authorization', '*.headers.cookie'], censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** Builds the service's Fastify instance without listening, so tests can inject or listen on port 0. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const metrics = options.metrics ?? new Metrics();
  const state = new ServiceState();
  if (options.registry !== undefined) state.setRegistry(options.registry);

  const serviceLogger = options.logger ?? createLogger(config.logLevel);
  // Typed as Fastify's base logger so the instance has the default type every plugin expects.
  const logger: FastifyBaseLogger = serviceLogger;
  const timeouts = serverTimeoutOptions(config.http);
  const { tls } = config.security;
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
    ...timeouts,
    // HTTPS straight from the service with TLS_CERT_FILE/TLS_KEY_FILE (the HTTP server options apply to it too).
    ...(tls === undefined ? {} : { https: httpsServerOptions(tls, timeouts.http) }),
    clientErrorHandler: clientErrorHandler(logger),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const decoder =
    options.decoder ??
    new PixelDecoder({
      threads: config.decoderThreads,
      taskTimeoutMs: config.decoderTimeoutMs,
      maxQueue: config.decoderMaxQueue,
      logger: serviceLogger,
    });
  // Decoded images may be patient data: libvips keeps none of them (nor open files) in its cache.
  sharp.cache(false);
  // Provisional until server.ts sizes it at ready (inputs/memory-budget-size.ts).
  const memoryBudget = createMemoryBudget(config.memory, (reserved, limit) => {
    metrics.memoryReservedBytes.set(reserved);
    metrics.memoryBudgetBytes.set(limit);
  });
  await app.register(serviceDecorations, {
    state,
    config,
    metrics,
    pixelDecoder: decoder,
    memoryBudget,
    dicomweb: new DicomwebSources(config.dicomweb, metrics),
  });
  app.addHook('onClose', async () => {
    await decoder.close();
  });

  registerApiSchemas(app);
  await app.register(errorHandling);
  if (tls !== undefined) await app.register(tlsReload, { tls, logger: serviceLogger });
  if (tls?.hstsMaxAgeSeconds !== undefined) await app.register(hsts, { maxAgeSeconds: tls.hstsMaxAgeSeconds });
  // The hooks every request meets, in this order (each plugin names the ones it needs before it, http/plugins/names.ts,
  // so Fastify refuses another order), all before its body is read: identified, traced, the audit clock started,
  // a Host not allowed refused (421), a foreign Origin refused (403), the API key checked (401/403), a declared body over the limit refused (413);
  // then the inference routes' admission (503), in their own context, and last the key's rate (429), a hook of
  // each route, which Fastify runs after every instance's.
  const { security } = config;
  await app.register(requestContext);
  await app.register(tracing, config.telemetry);
  await app.register(auditLog, { target: security.auditLog, destination: options.auditDestination });
  await app.register(hostCheck, { policy: security.allowedHosts });
  await app.register(corsCheck, { allowed: security.corsOrigins });
  await app.register(accessControl, { store: new ApiKeyStore(security.envKeys, security.keysFile, serviceLogger) });
  await app.register(bodyAdmission, { maxBodyBytes: config.limits.bodyBytes });
  await app.register(lingeringClose, { ms: config.http.lingerMs, bytes: config.http.lingerBytes });
  await app.register(rateLimits);

  await app.register(healthRoutes);
  await app.register(docsRoutes);
  // With METRICS_PORT the metrics have a listener of their own (server.ts), and /metrics here is 404.
  if (config.security.metricsPort === undefined) await app.register(metricsRoutes, { metrics });
  await app.register(pageRoutes);
  await app.register(modelRoutes);
  await app.register(openInferenceRoutes);
  await app.register(openaiModelRoutes);
  await app.register(inferenceRoutes);
  // Durable jobs only with JOBS_DB or JOBS_DATABASE_URL (docs/pacs.md "Jobs"); without either /jobs is 404.
  const { jobs } = config;
  if ((jobs.db !== undefined || jobs.databaseUrl !== undefined) && jobs.keySecret !== undefined) {
    await app.register(jobsRoutes, { jobs: { ...jobs, keySecret: jobs.keySecret } });
    // Watches of sources creating jobs for new studies (docs/pacs.md "Watching a source").
    if (config.watches.length > 0) await app.register(watchesPlugin, { watches: config.watches });
  }
  // Last, so that only a built app has threads; a broken codec install fails the build here.
  await decoder.start();
  return app;
}
