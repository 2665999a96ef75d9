import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyBaseLogger } from 'fastify';
import type { HttpConfig } from '../../config.ts';
import { SERVICE_VERSION } from '../../version.ts';
import type { ErrorCode } from '../../error-catalogue.ts';
import { errorBody, statusOf } from '../errors/error-handler.ts';

/**
 * Fastify and Node server options that bound slow clients. Fastify's default requestTimeout of 0 turns Node's
 * own guard off, so a client trickling its body would hold a connection for ever; here every request must
 * arrive within HTTP_REQUEST_TIMEOUT_MS (headers within HTTP_HEADERS_TIMEOUT_MS), else 408.
 */
export function serverTimeoutOptions(http: HttpConfig) {
  const nodeOptions: ServerOptions = {
    requestTimeout: http.requestTimeoutMs,
    headersTimeout: http.headersTimeoutMs,
    // Node looks for late requests on this period (default 30 s), so it bounds how late a 408 can come.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(http.headersTimeoutMs / 10))),
  };
  return {
    http: nodeOptions,
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionTimeout: http.connectionTimeoutMs,
  };
}

/** Answers for errors Node reports before a request reached Fastify, or while its body was still arriving. */
const CLIENT_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'request_timeout',
    message: 'the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS for the headers, HTTP_REQUEST_TIMEOUT_MS for all of it)',
  },
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'the request headers are too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { code: 'too_large', message: 'the chunk extensions are too large' },
};
const MALFORMED: { code: ErrorCode; message: string } = { code: 'bad_request', message: 'malformed HTTP request' };

/**
 * Fastify's `clientErrorHandler`: the same JSON error shape as every other answer, written straight to the
 * socket (there is no reply), and only when nothing of another response went out on it; then the socket closes.
 */
export function clientErrorHandler(logger: FastifyBaseLogger) {
  return (err: ConnectionError, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { code, message } = CLIENT_ERRORS[err.code] ?? MALFORMED;
    const status = statusOf(code);
    const id = randomUUID();
    logger[status === 408 ? 'info' : 'debug']({ reqId: id, status, code }, 'connection refused');
    // Node's own handler makes the same check: a response under way must not be corrupted.
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
    if (socket.writable && inFlight?.headersSent !== true) {
      const body = JSON.stringify(errorBody(code, message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nX-Service-Version: ${SERVICE_VERSION}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
