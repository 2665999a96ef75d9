import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { tooLarge } from '../../errors.ts';
import { PLUGIN } from './names.ts';

/**
 * Decides before a body is read whether it is wanted. A declared `Content-Length` over the limit is answered
 * 413 at once, whatever the route. `Expect: 100-continue` gets its `100 Continue` only once the request has
 * passed routing and the onRequest checks (size, readiness) and its body is about to be parsed, so a client
 * that asked first learns of a 413 or 503 without sending the body. (Node's own default sends `100 Continue`
 * before any of that.)
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** The variable that sets a route's own, smaller `bodyLimit` (for the 413's message). */
    bodyLimitName?: string;
  }
}

export const bodyAdmission = fp<{ maxBodyBytes: number }>(
  (app, { maxBodyBytes }, loaded) => {
    // Requests whose 100 Continue is still owed.
    const awaitingContinue = new WeakSet<IncomingMessage>();
    // With a listener here Node leaves the interim answer to us (HTTP/1.1 requests that expect 100-continue).
    app.server.on('checkContinue', (req: IncomingMessage, res) => {
      awaitingContinue.add(req);
      app.server.emit('request', req, res);
    });

    app.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
      const declared = Number(request.headers['content-length']);
      // A route may take less than MAX_BODY_BYTES (its `bodyLimit`, named by `config.bodyLimitName`).
      const limit = Math.min(maxBodyBytes, request.routeOptions.bodyLimit ?? maxBodyBytes);
      if (declared > limit) {
        const name = limit < maxBodyBytes ? (request.routeOptions.config.bodyLimitName ?? 'the route') : 'MAX_BODY_BYTES';
        done(tooLarge(`the request body is larger than ${name} allows (${limit} bytes)`));
        return;
      }
      done();
    });

    app.addHook('preParsing', (request: FastifyRequest, reply: FastifyReply, payload, done) => {
      if (awaitingContinue.delete(request.raw) && !reply.raw.headersSent) reply.raw.writeContinue();
      done(null, payload);
    });
    loaded();
  },
  // After the Origin and key checks: a client that is not let in (403, 401) learns nothing of the body limits,
  // whatever it declares; and nothing is read before then either way (the 100 Continue waits for every check).
  { name: PLUGIN.bodyAdmission, dependencies: [PLUGIN.accessControl] },
);
