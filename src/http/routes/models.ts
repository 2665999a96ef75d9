import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { PromptSetInfo } from '../../models/types.ts';
import { MODEL_HEADER } from '../plugins/request-context.ts';
import { authorizeModel } from '../security/access-control.ts';
import { ref } from '../openapi/schemas.ts';

/**
 * What is served: models and their prompt sets. Read-only, so still answered while draining. A key with `models=`
 * sees only those models and their prompt sets.
 */
export function mayUse(request: FastifyRequest, id: string): boolean {
  const allowed = request.apiKey?.models;
  return allowed === undefined || allowed.includes(id);
}

export const modelRoutes: FastifyPluginCallback = (app, _options, done) => {
  const state = app.serviceState;

  app.get('/models', { schema: { response: { 200: ref('ModelsResponse') } } }, (request) => {
    const registry = state.requireRegistry();
    return { default: registry.defaultId, models: registry.list().filter((info) => mayUse(request, info.id)) };
  });

  app.get<{ Querystring: { model?: string } }>(
    '/prompt-sets',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { model: ref('ModelId') } },
        response: { 200: ref('PromptSetsResponse') },
      },
    },
    (request, reply) => {
      const registry = state.requireRegistry();
      let sets: PromptSetInfo[];
      if (request.query.model !== undefined) {
        authorizeModel(request, request.query.model);
        const model = registry.get(request.query.model);
        void reply.header(MODEL_HEADER, model.sha256);
        sets = model.promptSets();
      } else {
        sets = registry
          .list()
          .filter((info) => mayUse(request, info.id))
          .flatMap((info) => registry.get(info.id).promptSets());
      }
      return { prompt_sets: sets };
    },
  );
  done();
};
