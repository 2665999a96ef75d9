/**
 * The one module that loads the OpenTelemetry SDK, imported (dynamically) only when spans are exported, so a
 * service without OTEL_EXPORTER_OTLP_ENDPOINT never loads it.
 */
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SERVICE_VERSION } from '../../version.ts';
import type { ExportedRequestSpan, SpanExport } from './request-trace.ts';
import type { TraceContext } from './trace-context.ts';

function parentOf(parent: TraceContext | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(parent.traceState === undefined ? {} : { traceState: createTraceState(parent.traceState) }),
  });
}

/** Spans batched and sent to `tracesUrl` (OTLP/HTTP, JSON); the caller's sampling decision is kept (parent-based). */
export function openSpanExport(tracesUrl: string, serviceName: string): SpanExport {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.version': SERVICE_VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }))],
  });
  const tracer = provider.getTracer('unimed-serve', SERVICE_VERSION);
  return {
    startRequest(parent, method, route, startMs): ExportedRequestSpan {
      const span = tracer.startSpan(
        `${method} ${route}`,
        { kind: SpanKind.SERVER, startTime: startMs, attributes: { 'http.request.method': method, 'http.route': route } },
        parentOf(parent),
      );
      const own = span.spanContext();
      const inside = trace.setSpan(ROOT_CONTEXT, span);
      return {
        context: {
          traceId: own.traceId,
          spanId: own.spanId,
          sampled: (own.traceFlags & TraceFlags.SAMPLED) !== 0,
          traceState: parent?.traceState,
        },
        child(name, fromMs, toMs) {
          tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: fromMs }, inside).end(toMs);
        },
        end(status, endMs) {
          span.setAttribute('http.response.status_code', status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end(endMs);
        },
      };
    },
    // Sends what is still batched: called when the app closes, after the drain.
    shutdown: () => provider.shutdown(),
  };
}
