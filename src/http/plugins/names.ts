/**
 * The plugins that hook into every request, by name, in the order a request meets them. Each declares the ones
 * before it that it needs (`fastify-plugin`'s `dependencies`), so Fastify refuses to start when src/app.ts
 * registers them out of order (FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED).
 */
export const PLUGIN = {
  /** What every hook reads: app.serviceState, config, metrics, the pixel decoder (plugins/decorators.ts). */
  service: 'unimed-service',
  /** The one mapper from errors to responses (errors/error-handler.ts). */
  errors: 'unimed-errors',
  /** X-Request-Id first, so every answer carries it; the request's lifetime (plugins/request-context.ts). */
  requestContext: 'unimed-request-context',
  /** W3C trace context; `traceparent` on every answer, refusals included (tracing/install.ts). */
  tracing: 'unimed-tracing',
  /** The audit clock starts, so refused requests are timed too (security/audit.ts). */
  audit: 'unimed-audit',
  /** A Host that ALLOWED_HOSTS does not name: 421, against DNS rebinding (security/host-check.ts). */
  hostCheck: 'unimed-host-check',
  /** A foreign Origin: 403; preflights answered before any key is asked for (security/cors.ts). */
  cors: 'unimed-cors',
  /** The API key: 401/403 (security/access-control.ts). */
  accessControl: 'unimed-access-control',
  /** A declared body over the limit: 413, only to a client let in; `100 Continue` held (plugins/body-admission.ts). */
  bodyAdmission: 'unimed-body-admission',
  /** Answers sent before the body arrived close the connection gently (plugins/lingering-close.ts). */
  lingeringClose: 'unimed-lingering-close',
  /** The inference routes' door: 503 while loading, draining or overloaded (plugins/admission.ts). */
  admission: 'unimed-admission',
  /**
   * The key's rate: 429 (security/rate-limit.ts). @fastify/rate-limit hooks each route as it is added, and Fastify
   * runs a route's own onRequest hooks after every instance's: whatever the order of registration, this check
   * comes last, after body admission and admission. Registered before the routes, whose hooks it adds.
   */
  rateLimit: 'unimed-rate-limit',
  /** The certificate reloaded when its files change (plugins/tls.ts); no hook on requests. */
  tlsReload: 'unimed-tls-reload',
  /** Strict-Transport-Security on every answer of the HTTPS listener (plugins/tls.ts); sets a header, refuses nothing. */
  hsts: 'unimed-hsts',
} as const;
