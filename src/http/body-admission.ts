import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tooLarge } from '../errors.ts';

/**
 * Decides before a body is read whether it is wanted. A declared `Content-Length` over the limit is answered
 * 413 at once, whatever the route. `Expect: 100-continue` gets its `100 Continue` only once the request has
 * passed routing and the onRequest checks (size, readiness) and its body is about to be parsed, so a client
 * that asked first learns of a 413 or 503 without sending the body. (Node's own default sends `100 Continue`
 * before any of that.)
 */
export function installBodyAdmission(app: FastifyInstance, maxBodyBytes: number): void {
  // Requests whose 100 Continue is still owed.
  const awaitingContinue = new WeakSet<IncomingMessage>();
  // With a listener here Node leaves the interim answer to us (HTTP/1.1 requests that expect 100-continue).
  app.server.on('checkContinue', (req: IncomingMessage, res) => {
    awaitingContinue.add(req);
    app.server.emit('request', req, res);
  });

  app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    const declared = Number(request.headers['content-length']);
    if (declared > maxBodyBytes) {
      done(tooLarge('the request body is larger than MAX_BODY_BYTES allows'));
      return;
    }
    done();
  });

  app.addHook('preParsing', (request: FastifyRequest, reply: FastifyReply, payload, done) => {
    if (awaitingContinue.delete(request.raw) && !reply.raw.headersSent) reply.raw.writeContinue();
    done(null, payload);
  });
}
