/**
 * The OpenAI-compatible routes: `POST /v1/embeddings` and `GET /v1/models`, thin adapters over the same use cases,
 * cache, batcher, limits and key scopes as `/embed/text`, `/embed/image` and `/models`, answering (errors too) in
 * OpenAI's shapes. docs/api.md "OpenAI-compatible routes" tells what differs.
 */
import type { FastifyPluginCallback } from 'fastify';
import { badRequest, inField, ServiceError, unsupportedMediaType } from '../../errors.ts';
import type { ServedModel } from '../../models/types.ts';
import { embedImages, embedTexts } from '../../service/embed.ts';
import type { ModelChooser } from '../../service/use-case.ts';
import { renderOpenAI } from '../errors/error-renderers.ts';
import { ref } from '../openapi/schemas.ts';
import { modelChooser } from '../plugins/admission.ts';
import { embeddingsInput, type EmbeddingsBody } from '../readers/openai-input.ts';
import { mayUse } from './models.ts';
import { toNumbers } from '../../vectors.ts';

/** Every /v1 route answers its errors as OpenAI does (src/http/errors/error-handler.ts). */
const OPENAI = { errorRenderer: renderOpenAI } as const;

/** Who the models are listed as owned by (`owned_by`). */
const OWNER = 'unimed-serve';

/** The model's own dimension, or fewer when its model.json declares `embedding_truncation`; checked before any work. */
function checkDimensions(model: ServedModel, dimensions: number | undefined): void {
  if (dimensions === undefined || dimensions === model.embedDim) return;
  const own = `model "${model.id}" gives ${model.embedDim}-dimensional embeddings`;
  if (!model.embeddingTruncation) {
    const message = `${own} and does not declare that they may be truncated (embedding_truncation in its model.json): dimensions must be ${model.embedDim} or absent`;
    throw inField('dimensions', badRequest(message));
  }
  if (dimensions > model.embedDim) throw inField('dimensions', badRequest(`${own}: dimensions may be ${model.embedDim} at most`));
}

/** The first `dimensions` values, L2-normalized again (as the full embedding is). */
function truncated(embedding: Float32Array, dimensions: number | undefined): Float32Array {
  if (dimensions === undefined || dimensions >= embedding.length) return embedding;
  const cut = embedding.slice(0, dimensions);
  const norm = Math.hypot(...cut);
  return norm > 0 ? cut.map((x) => x / norm) : cut;
}

/** OpenAI's `base64` encoding: the float32 values, little-endian, base64. */
function base64(embedding: Float32Array): string {
  const bytes = Buffer.alloc(embedding.length * 4);
  embedding.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

/** The use cases name their inputs as the native routes do (`texts`, `images`); here they all came in `field`. */
const NATIVE_FIELDS = new Set(['texts', 'images', 'image']);
function inParam(err: unknown, field: string): unknown {
  if (!(err instanceof ServiceError) || err.field === undefined || !NATIVE_FIELDS.has(err.field)) return err;
  const retry = err.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: err.retryAfterSeconds };
  return new ServiceError(err.code, err.message, { field, cause: err.cause, ...retry });
}

/** POST /v1/embeddings, in the inference routes' context (admission, content types, outcome metrics). */
export const openaiEmbeddingRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const imageLimit = { max: limits.imagesPerRequest, rule: `MAX_IMAGES_PER_REQUEST allows ${limits.imagesPerRequest}` };

  app.post<{ Body: EmbeddingsBody | Buffer | undefined }>(
    '/v1/embeddings',
    {
      config: OPENAI,
      schema: {
        body: { content: { 'application/json': { schema: ref('OpenAIEmbeddingsRequest') } } },
        response: { 200: ref('OpenAIEmbeddingsResponse') },
      },
    },
    async (request, reply) => {
      const { body } = request;
      if (request.isMultipart() || Buffer.isBuffer(body)) throw unsupportedMediaType('/v1/embeddings takes application/json');
      if (body === undefined) throw badRequest('send JSON {"model": ..., "input": ...}');
      const given = embeddingsInput(body, imageLimit);
      const pick = modelChooser(request, reply);
      const choose: ModelChooser = (id) => {
        const model = pick(id);
        checkDimensions(model, body.dimensions);
        return model;
      };
      const services = app.useCaseServices;
      let result: { model: ServedModel; embeddings: Float32Array[]; tokens: number };
      try {
        result =
          'texts' in given
            ? await embedTexts({ texts: given.texts, model: body.model }, choose, services, request.workContext)
            : {
                // Images count no tokens.
                tokens: 0,
                ...(await embedImages(
                  // Data URLs only, so nothing is retrieved; DICOM is rendered as the native routes render it by default.
                  { images: given.images, retrievalBytes: 0, rendering: {}, model: body.model },
                  choose,
                  services,
                  request.workContext,
                )),
              };
      } catch (err) {
        throw inParam(err, given.field);
      }
      const { model, embeddings, tokens } = result;
      const encode = body.encoding_format === 'base64' ? base64 : toNumbers;
      return {
        object: 'list',
        data: embeddings.map((e, index) => ({ object: 'embedding', index, embedding: encode(truncated(e, body.dimensions)) })),
        model: model.id,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    },
  );
  done();
};

/** GET /v1/models: the served models a key may use (its `models=`), answered while draining like /models. */
export const openaiModelRoutes: FastifyPluginCallback = (app, _options, done) => {
  const state = app.serviceState;
  app.get('/v1/models', { config: OPENAI, schema: { response: { 200: ref('OpenAIModelList') } } }, (request) => {
    const registry = state.requireRegistry();
    const data = registry
      .list()
      .filter((info) => mayUse(request, info.id))
      .map((info) => ({ id: info.id, object: 'model', created: registry.get(info.id).exportedAt ?? 0, owned_by: OWNER }));
    return { object: 'list', data };
  });
  done();
};
