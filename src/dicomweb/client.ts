/**
 * One request to a DICOMweb source (a GET, or a POST with a body for STOW-RS), bounded: the URL is the source's base
 * plus a path built from checked UIDs (never a URL from a request or from the PACS: BulkDataURIs are not followed),
 * redirects are not followed (a 3xx is a failure), the answer's body is cut at `maxBytes`, and the wait (sending the
 * body included) ends at the source's timeout or the request's deadline, whichever comes first, or when the client
 * leaves.
 */
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DicomwebSource } from '../config/dicomweb.ts';
import { CancelledError, deadlineExceeded, tooLarge } from '../errors.ts';
import type { Cancellation } from '../models/types.ts';

/** A call made for a caller's work: dropped with it, within its deadline, and carrying its trace headers. */
export type OutgoingCall = Cancellation & {
  /** The caller's W3C trace context headers (traceparent, tracestate), sent on the outgoing request. */
  readonly traceHeaders?: Readonly<Record<string, string>>;
};
import { upstreamTimeout, upstreamUnavailable } from './errors.ts';

export interface SourceResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface RequestOptions {
  accept: string;
  /** Bounds the answer's body. */
  maxBytes: number;
  cancellation: OutgoingCall;
  /** Sent with POST; without it the request is a GET. */
  body?: RequestBody;
}

export interface RequestBody {
  contentType: string;
  bytes: Buffer;
}

/** Why a request failed, for the failures metric (the error itself goes to the client). */
export type FailureReason = 'unreachable' | 'timeout' | 'deadline' | 'too_large' | 'client_gone';

export class SourceRequestError extends Error {
  readonly reason: FailureReason;
  readonly error: Error;

  constructor(reason: FailureReason, error: Error) {
    super(error.message);
    this.name = 'SourceRequestError';
    this.reason = reason;
    this.error = error;
  }
}

/** The URL of `path` (already escaped segments) under the source's base; refused if it would leave the base. */
export function sourceUrl(source: DicomwebSource, path: string): URL {
  const url = new URL(source.url.href);
  url.pathname = `${source.url.pathname}/${path}`;
  if (url.origin !== source.url.origin || !url.pathname.startsWith(`${source.url.pathname}/`))
    throw new Error('a DICOMweb URL left its source');
  return url;
}

export function requestSource(source: DicomwebSource, url: URL, options: RequestOptions): Promise<SourceResponse> {
  const { signal, deadline } = options.cancellation;
  const untilDeadline = deadline === undefined ? Infinity : deadline - Date.now();
  const byDeadline = untilDeadline < source.timeoutMs;
  const waitMs = Math.max(0, Math.min(source.timeoutMs, untilDeadline));
  return new Promise<SourceResponse>((resolve, reject) => {
    let settled = false;
    const fail = (reason: FailureReason, error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outgoing.destroy();
      reject(new SourceRequestError(reason, error));
    };
    const onAbort = (): void => fail('client_gone', new CancelledError('the client disconnected while the DICOMweb source was answering'));
    const timer = setTimeout(() => {
      if (byDeadline) fail('deadline', deadlineExceeded('the request deadline passed while the DICOMweb source was answering'));
      else fail('timeout', upstreamTimeout(source.name, source.timeoutMs));
    }, waitMs);
    // The request's trace continues at the source (W3C traceparent/tracestate only: nothing of the request's own).
    const headers: Record<string, string> = { ...options.cancellation.traceHeaders, accept: options.accept, 'user-agent': 'unimed-serve' };
    if (source.authorization !== undefined) headers.authorization = source.authorization;
    const { body } = options;
    if (body !== undefined) {
      headers['content-type'] = body.contentType;
      headers['content-length'] = String(body.bytes.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const outgoing = send(
      url,
      { method: body === undefined ? 'GET' : 'POST', headers, ...(source.ca === undefined ? {} : { ca: source.ca }) },
      (response: IncomingMessage) => {
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > options.maxBytes) {
          fail('too_large', tooLarge(`DICOMweb source "${source.name}" sent ${declared} bytes, over MAX_BODY_BYTES (${options.maxBytes})`));
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > options.maxBytes)
            fail('too_large', tooLarge(`DICOMweb source "${source.name}" sent more than MAX_BODY_BYTES (${options.maxBytes}) bytes`));
          else chunks.push(chunk);
        });
        response.on('error', (error) => fail('unreachable', upstreamUnavailable(source.name, `broke off its answer (${error.message})`)));
        response.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers['content-type'],
            body: Buffer.concat(chunks, received),
          });
        });
      },
    );
    // Node's messages name the address and the system error (ECONNREFUSED 127.0.0.1:1), never the path.
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      fail('unreachable', upstreamUnavailable(source.name, `is unreachable (${error.code ?? error.message})`)),
    );
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (!settled) outgoing.end(body?.bytes);
  });
}
