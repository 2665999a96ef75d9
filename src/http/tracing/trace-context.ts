import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** One span's place in a W3C trace (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
  /** The caller's vendor entries, passed on unchanged. */
  traceState?: string | undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZEROS = /^0+$/;
const MAX_TRACEPARENT_CHARS = 256;
// The specification's own bounds: 32 list members, and 512 characters is what every vendor must pass on.
const MAX_TRACESTATE_CHARS = 512;
const MAX_TRACESTATE_MEMBERS = 32;
const TRACESTATE_MEMBER = /^[a-z0-9][-a-z0-9_*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/** The caller's trace context, or undefined when `traceparent` is absent or not valid (a new trace starts then). */
export function incomingContext(headers: IncomingHttpHeaders): TraceContext | undefined {
  const value = headers.traceparent;
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT_CHARS) return undefined;
  const match = TRACEPARENT.exec(value.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is invalid; version 00 has exactly four fields (later versions may append more).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ALL_ZEROS.test(traceId) || ALL_ZEROS.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1, traceState: traceState(headers.tracestate) };
}

/** `tracestate` when it is well formed and within the specification's bounds; otherwise it is dropped. */
function traceState(value: string | string[] | undefined): string | undefined {
  const joined = Array.isArray(value) ? value.join(',') : value;
  if (joined === undefined || joined.length > MAX_TRACESTATE_CHARS) return undefined;
  const members = joined
    .split(',')
    .map((member) => member.trim())
    .filter((member) => member !== '');
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  return members.every((member) => TRACESTATE_MEMBER.test(member)) ? members.join(',') : undefined;
}

export const newTraceId = (): string => randomBytes(16).toString('hex');
export const newSpanId = (): string => randomBytes(8).toString('hex');

/** The headers that carry `context` to whoever is next: the response, and outgoing DICOMweb requests. */
export function traceHeaders(context: TraceContext): Record<string, string> {
  const headers: Record<string, string> = { traceparent: `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}` };
  if (context.traceState !== undefined) headers.tracestate = context.traceState;
  return headers;
}
