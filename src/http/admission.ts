import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';
import type { ServedModel } from '../models/types.ts';
import { MODEL_HEADER } from './request-context.ts';
import type { ModelProvider } from './state.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The models an inference request was admitted to; set once, before its body is read. */
    models: ModelProvider;
  }
}

/**
 * The door of the inference routes: a request is accepted once, before its body is read (so a 503 costs no
 * upload), and from then on it is served to the end even if draining starts, and counted so that shutdown
 * can wait for it.
 */
export function installAdmission(app: FastifyInstance): void {
  const state = app.unimed;
  app.decorateRequest('models', null as unknown as ModelProvider);
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    try {
      request.models = state.acceptWork();
    } catch (err) {
      done(err as Error);
      return;
    }
    state.beginWork();
    // 'close' fires once whether the reply was sent or the client left, so the count cannot leak.
    reply.raw.once('close', () => state.endWork());
    done();
  });
}

/** The model the request asked for (the default without one), named in the answer's X-Model-Sha256. */
export function pickModel(request: FastifyRequest, reply: FastifyReply, id: string | undefined): ServedModel {
  const model = request.models.get(id);
  void reply.header(MODEL_HEADER, model.sha256);
  return model;
}

/** `model` may come from the query string and from the body, but the two must not disagree. */
export function requestedModel(fromQuery: string | undefined, fromBody: string | undefined): string | undefined {
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw badRequest(`model is "${fromQuery}" in the query but "${fromBody}" in the body`);
  }
  return fromBody ?? fromQuery;
}
