import type { FastifyPluginCallback } from 'fastify';
import type { PromptSetInfo } from '../../models/types.ts';
import { MODEL_HEADER } from '../plugins/request-context.ts';
import { ref } from '../openapi/schemas.ts';

/** What is served: models and their prompt sets. Read-only, so still answered while draining. */
export const modelRoutes: FastifyPluginCallback = (app, _options, done) => {
  const state = app.serviceState;

  app.get('/models', { schema: { response: { 200: ref('ModelsResponse') } } }, () => {
    const registry = state.requireRegistry();
    return { default: registry.defaultId, models: registry.list() };
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
        const model = registry.get(request.query.model);
        void reply.header(MODEL_HEADER, model.sha256);
        sets = model.promptSets();
      } else {
        sets = registry.list().flatMap((info) => registry.get(info.id).promptSets());
      }
      return { prompt_sets: sets };
    },
  );
  done();
};
