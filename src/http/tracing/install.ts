import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { TelemetryConfig } from '../../config/telemetry.ts';
import { PLUGIN } from '../plugins/names.ts';
import type { ExportedRequestSpan, RequestTrace, SpanExport } from './request-trace.ts';
import { incomingContext, newSpanId, newTraceId, traceHeaders } from './trace-context.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** This request's trace context and its child spans (http/tracing/). */
    trace: RequestTrace;
  }
}

const ignoreStep = (): void => undefined;

/**
 * W3C trace context on every request: the caller's `traceparent` is continued (else a trace starts), and the
 * request's own span is named in the answer's `traceparent` and on outgoing DICOMweb requests. With a traces URL,
 * spans are exported: one per request (method, route template, status) with children for decode, queue wait and
 * inference, and no attribute from the payload. The work context of an inference request (http/plugins/admission.ts) carries its headers and steps.
 */
export const tracing = fp<TelemetryConfig>(
  async (app, telemetry) => {
    let spans: SpanExport | undefined;
    if (telemetry.tracesUrl !== undefined) {
      const { openSpanExport } = await import('./span-export.ts');
      const opened = openSpanExport(telemetry.tracesUrl, telemetry.serviceName);
      app.addHook('onClose', async () => opened.shutdown());
      spans = opened;
    }
    const requestSpans = new WeakMap<FastifyRequest, ExportedRequestSpan>();
    app.decorateRequest('trace', null as unknown as RequestTrace);

    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
      const parent = incomingContext(request.headers);
      const span = spans?.startRequest(parent, request.method, request.routeOptions.url ?? 'unmatched', Date.now());
      const context = span?.context ?? {
        traceId: parent?.traceId ?? newTraceId(),
        spanId: newSpanId(),
        sampled: parent?.sampled ?? false,
        traceState: parent?.traceState,
      };
      const headers = traceHeaders(context);
      void reply.headers(headers);
      if (span === undefined) {
        request.trace = { headers, step: ignoreStep };
      } else {
        requestSpans.set(request, span);
        request.trace = { headers, step: (name, fromMs, toMs) => span.child(name, fromMs, toMs) };
      }
      done();
    });
    if (spans === undefined) return;

    const end = (request: FastifyRequest, status: number): void => {
      const span = requestSpans.get(request);
      if (span === undefined) return;
      requestSpans.delete(request);
      span.end(status, Date.now());
    };
    app.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
      end(request, reply.statusCode);
      done();
    });
    // The client left before the answer: the span ends with nginx's "client closed request".
    app.addHook('onRequestAbort', (request: FastifyRequest, done) => {
      end(request, 499);
      done();
    });
  },
  // After the request context: the request id is set first; before security, so refusals are traced too.
  { name: PLUGIN.tracing, dependencies: [PLUGIN.requestContext] },
);
