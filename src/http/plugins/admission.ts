import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { badRequest, inField, unavailable } from '../../errors.ts';
import type { ServedModel } from '../../models/types.ts';
import { workContext, type WorkContext } from '../../service/context.ts';
import type { ModelChooser } from '../../service/use-case.ts';
import { noteModel } from '../security/audit.ts';
import { authorizeModel, sourceGrant } from '../security/access-control.ts';
import { PLUGIN } from './names.ts';
import { MODEL_HEADER } from './request-context.ts';
import type { ModelProvider } from './state.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The model registry an inference request was admitted to; set once, before its body is read. */
    modelRegistry: ModelProvider;
    /**
     * What the use cases run this request's work with (owner, abort signal, deadline, trace), built once at
     * admission, when all of it is known, and never changed.
     */
    workContext: WorkContext;
  }
}

/**
 * Whose work a request is, for the batcher's fair shares (engine/batch-selection.ts): its API key when it was
 * authenticated with one, so that one client's many requests share like one; else the request itself.
 */
export function workOwner(request: FastifyRequest): string {
  // Set by the API-key check (http/security/access-control.ts), a root plugin registered before this one.
  const keyId = request.apiKeyId;
  return keyId !== undefined ? `key:${keyId}` : `request:${request.id}`;
}

/**
 * The text-embedding cache partition of a request: its API key's id, so that one key cannot learn from a hit (its
 * speed, the hit counters) that another recently sent a text; the shared partition without keys or with
 * TEXT_CACHE_SHARED (docs/security.md "Text-embedding cache").
 */
export function textCachePartition(request: FastifyRequest, shared: boolean): string | undefined {
  return shared ? undefined : request.apiKeyId;
}

/**
 * The door of the inference routes: a request is accepted once, before its body is read (so a 503 costs no
 * upload), if fewer than MAX_INFLIGHT_REQUESTS are in progress, and from then on it is served to the end even
 * if draining starts, and counted so that shutdown can wait for it. Registered in the inference routes'
 * context, so its hook runs after every root hook (their 403, 401, 429 and 413 come first).
 */
export const admission = fp(
  (app, _options, loaded) => {
    const { serviceState: state, metrics } = app;
    const { inflightRequests: maxInflightRequests } = app.config.limits;
    const { textCacheShared } = app.config;
    app.decorateRequest('modelRegistry', null as unknown as ModelProvider);
    app.decorateRequest('workContext', null as unknown as WorkContext);
    app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      try {
        request.modelRegistry = state.acceptWork();
      } catch (err) {
        done(err as Error);
        return;
      }
      if (state.inflight >= maxInflightRequests) {
        done(
          unavailable(
            `${state.inflight} requests are in progress, MAX_INFLIGHT_REQUESTS allows ${maxInflightRequests}; retry later`,
            'overloaded',
            1,
          ),
        );
        return;
      }
      // The request's lifetime (http/plugins/request-context.ts) and trace (http/tracing/install.ts) come from root plugins registered before.
      request.workContext = workContext({
        owner: workOwner(request),
        cachePartition: textCachePartition(request, textCacheShared),
        ...request.lifetime,
        trace: request.trace,
        sourceGrant: sourceGrant(request),
      });
      state.beginWork();
      metrics.requestsInProgress.inc();
      // 'close' fires once whether the reply was sent or the client left, so the count cannot leak.
      reply.raw.once('close', () => {
        state.endWork();
        metrics.requestsInProgress.dec();
      });
      done();
    });
    loaded();
  },
  {
    name: PLUGIN.admission,
    // What the work context is built from (lifetime, trace, key id and sources, the audit of source accesses), and the refusals that come before a 503.
    dependencies: [PLUGIN.requestContext, PLUGIN.tracing, PLUGIN.audit, PLUGIN.accessControl, PLUGIN.bodyAdmission],
  },
);

/**
 * The model the request asked for (the default without one), named in the answer's X-Model-Sha256 and its audit
 * line; 403 if the request's API key may not use it.
 */
export function pickModel(request: FastifyRequest, reply: FastifyReply, id: string | undefined): ServedModel {
  const model = request.modelRegistry.get(id);
  noteModel(request, model);
  authorizeModel(request, model.id);
  void reply.header(MODEL_HEADER, model.sha256);
  return model;
}

/** `model` may come from the query string and from the body, but the two must not disagree. */
export function requestedModel(fromQuery: string | undefined, fromBody: string | undefined): string | undefined {
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw inField('model', badRequest(`model is "${fromQuery}" in the query but "${fromBody}" in the body`));
  }
  return fromBody ?? fromQuery;
}

/** pickModel for a use case: the model it chooses is checked and named in this request's answer. */
export const modelChooser =
  (request: FastifyRequest, reply: FastifyReply): ModelChooser =>
  (id) =>
    pickModel(request, reply, id);
