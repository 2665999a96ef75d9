import type { FastifyInstance } from 'fastify';
import type { PromptSetInfo } from '../../models/types.ts';
import { ref } from '../schemas.ts';
import type { ServiceState } from '../state.ts';

/** What is served: models and their prompt sets. Read-only, so still answered while draining. */
export function modelRoutes(opts: { state: ServiceState }) {
  return function models(app: FastifyInstance, _options: unknown, done: () => void): void {
    const { state } = opts;

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
          void reply.header('x-model-sha256', model.sha256);
          sets = model.promptSets();
        } else {
          sets = registry.list().flatMap((info) => registry.get(info.id).promptSets());
        }
        return { prompt_sets: sets };
      },
    );
    done();
  };
}
