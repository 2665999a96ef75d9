import { ConfigError, type Env, integer, text } from './env.ts';

/**
 * Span export over OTLP/HTTP (docs/operations.md "Tracing"); W3C trace context is propagated whether or not spans are
 * exported. And the output-quality metrics' drift window (service/output-quality.ts).
 */
export interface TelemetryConfig {
  /** Where spans go (OTLP/HTTP, JSON); undefined: no export, and the OpenTelemetry SDK is never loaded. */
  tracesUrl: string | undefined;
  /** The `service.name` resource attribute of every exported span. */
  serviceName: string;
  /** DRIFT_WINDOW: the classified images per model that unimed_embedding_drift averages over. */
  driftWindow: number;
}

/** The least window: the drift alert waits for 100 images in it (docker/k8s/monitoring/prometheus-rule.yaml). */
export const MIN_DRIFT_WINDOW = 100;

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

/** The tracing variables and DRIFT_WINDOW (at least MIN_DRIFT_WINDOW images, at most a million). */
export function telemetryConfig(env: Env): TelemetryConfig {
  return { ...traceExport(env), driftWindow: integer(env, 'DRIFT_WINDOW', 500, MIN_DRIFT_WINDOW, 1_000_000) };
}

/**
 * The OpenTelemetry variables, as the OTLP exporter specification reads them: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * is the traces URL as given; OTEL_EXPORTER_OTLP_ENDPOINT is a base URL that `v1/traces` is appended to.
 */
function traceExport(env: Env): Omit<TelemetryConfig, 'driftWindow'> {
  const serviceName = text(env, 'OTEL_SERVICE_NAME') ?? 'unimed-serve';
  const traces = text(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return { tracesUrl: httpUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces).href, serviceName };
  const base = text(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base === undefined) return { tracesUrl: undefined, serviceName };
  const url = httpUrl('OTEL_EXPORTER_OTLP_ENDPOINT', base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return { tracesUrl: url.href, serviceName };
}
