import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { PLUGIN } from './names.ts';

export interface LingerLimits {
  /** How long, after the answer, the rest of the body is read and discarded before the socket is cut. */
  ms: number;
  /** How many more bytes are read and discarded at most. */
  bytes: number;
}

/** Whether the request announced a body (a declared length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * Answers sent before the request body has fully arrived (413, 415, 503, ...) close the connection, and close
 * it the way nginx's and Apache's lingering close do: send the answer, shut our write side, then read and
 * discard what the client still sends, within `limits`, before closing. Cutting at once would reset the
 * connection while a client that writes its whole body before reading (Python's urllib and requests, many
 * Java clients) is still writing: it would see EPIPE/ECONNRESET instead of the answer.
 */
export const lingeringClose = fp<LingerLimits>(
  (app, limits, loaded) => {
    app.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void) => {
      const req = request.raw;
      // `complete` is false only on a real socket still receiving the body (app.inject's requests have none).
      if (hasBody(req) && req.complete === false) {
        // RFC 9110 section 10.1.1: a server answering before it has read the body says whether it will close.
        void reply.header('connection', 'close');
        if (limits.ms > 0 && limits.bytes > 0) lingerInsteadOfClosing(req, req.socket, limits);
      }
      done(null, payload);
    });
    loaded();
  },
  // Last of the root plugins: the answers it lingers after are mostly the refusals of the hooks before it.
  { name: PLUGIN.lingeringClose, dependencies: [PLUGIN.bodyAdmission] },
);

/**
 * Node ends a `Connection: close` response with `socket.destroySoon()` (flush, FIN, destroy); this socket's
 * destroySoon lingers instead. Node calls it once the answer is written; nothing else in the server does.
 */
function lingerInsteadOfClosing(req: IncomingMessage, socket: Socket, limits: LingerLimits): void {
  let start: number | undefined;
  const count = (): void => {
    if (start !== undefined && socket.bytesRead - start > limits.bytes) socket.destroy();
  };
  // Listening now also keeps Node from "dumping" the body once the answer is out (dropping it unseen,
  // which would leave nothing to count).
  req.on('data', count);
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = () => {
    if (req.complete || socket.destroyed) {
      destroySoon();
      return;
    }
    // FIN after the answer: the client can read all of it while it is still writing.
    socket.end();
    start = socket.bytesRead;
    const timer = setTimeout(() => socket.destroy(), limits.ms);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
    // Nothing else reads the body any more (a parser that gave up may still hold it paused): discard it.
    req.unpipe();
    for (const listener of req.listeners('data')) if (listener !== count) req.off('data', listener as () => void);
    // The whole body arrived: nothing is left unread, so closing now cannot reset the connection.
    req.once('end', () => socket.destroy());
    req.resume();
  };
}
