import { ConfigError, type Env, text } from './env.ts';

/** Span export over OTLP/HTTP (docs/operations.md "Tracing"); W3C trace context is propagated whether or not spans are exported. */
export interface TelemetryConfig {
  /** Where spans go (OTLP/HTTP, JSON); undefined: no export, and the OpenTelemetry SDK is never loaded. */
  tracesUrl: string | undefined;
  /** The `service.name` resource attribute of every exported span. */
  serviceName: string;
}

function httpUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name}: must be an http:// or https:// URL`);
  return url;
}

/**
 * The OpenTelemetry variables, as the OTLP exporter specification reads them: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * is the traces URL as given; OTEL_EXPORTER_OTLP_ENDPOINT is a base URL that `v1/traces` is appended to.
 */
export function telemetryConfig(env: Env): TelemetryConfig {
  const serviceName = text(env, 'OTEL_SERVICE_NAME') ?? 'unimed-serve';
  const traces = text(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return { tracesUrl: httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces).href, serviceName };
  const base = text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base === undefined) return { tracesUrl: undefined, serviceName };
  const url = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return { tracesUrl: url.href, serviceName };
}
