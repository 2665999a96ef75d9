import type { TraceContext } from './trace-context.ts';

/** A request's place in its trace, as routes and request readers use it. */
export interface RequestTrace {
  /** `traceparent` (and `tracestate`) of the request's span: sent back with the answer and on outgoing requests. */
  readonly headers: Readonly<Record<string, string>>;
  /** Records a finished step of the request (decode, queue wait, inference) as a child span; nothing when spans are not exported. */
  step(name: string, fromMs: number, toMs: number): void;
}

/** One request's exported span (span-export.ts). */
export interface ExportedRequestSpan {
  readonly context: TraceContext;
  child(name: string, fromMs: number, toMs: number): void;
  end(status: number, endMs: number): void;
}

/** Span export as the tracing hooks see it; only span-export.ts knows it is OpenTelemetry's SDK. */
export interface SpanExport {
  /** `route`: the route's template, never the URL (which may hold identifiers). */
  startRequest(parent: TraceContext | undefined, method: string, route: string, startMs: number): ExportedRequestSpan;
  shutdown(): Promise<void>;
}
