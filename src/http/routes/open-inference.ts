/**
 * The Open Inference Protocol (KServe v2, REST): server and model metadata, health and readiness. Each served
 * model is two protocol models, its encoders: `{model}-text` and `{model}-image`. Inference is
 * open-inference-infer.ts. Errors are the protocol's `{"error": "<message>"}` (error-renderers.ts), refusals of the
 * security plugins included; a model the request's key may not use (`models=`) is answered as unknown, 404.
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { notFound, unavailable } from '../../errors.ts';
import type { ServedModel } from '../../models/types.ts';
import { SERVICE_VERSION } from '../../version.ts';
import { renderOpenInference } from '../errors/error-renderers.ts';
import { ref } from '../openapi/schemas.ts';
import { MODEL_HEADER } from '../plugins/request-context.ts';
import type { ModelProvider } from '../plugins/state.ts';
import { noteModel } from '../security/audit.ts';
import { PUBLIC } from '../security/public-routes.ts';
import { readyModels } from './health.ts';

/** Route config of every /v2 route: the protocol's error shape. */
export const OPEN_INFERENCE = { errorRenderer: renderOpenInference } as const;

/** The extensions GET /v2 lists: Triton's binary tensor data (raw bytes after the JSON, in requests and answers). */
export const EXTENSIONS = ['binary_tensor_data'] as const;

/** What a protocol model runs: one encoder of a served model. */
export type Encoder = 'text' | 'image';

/** Its input: a BYTES tensor of texts or of encoded image files. */
export const INPUT_NAME: Record<Encoder, string> = { text: 'text', image: 'image' };
export const OUTPUT_NAME = 'embedding';

/** The params of the /v2/models/{name} routes. */
export const NAME_PARAMS = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 300 } } };

/**
 * The served model and encoder a protocol model name stands for, when the request's key may use that model;
 * 404 model_not_found otherwise, so that a key learns nothing of the models it may not use.
 */
export function servedEncoder(request: FastifyRequest, registry: ModelProvider, name: string): { model: ServedModel; encoder: Encoder } {
  const match = /^(.+)-(text|image)$/.exec(name);
  const id = match?.[1];
  const allowed = request.apiKey?.models;
  const served = id !== undefined && registry.list().some((info) => info.id === id) && (allowed === undefined || allowed.includes(id));
  if (!served || match === null) {
    throw notFound(
      `no model "${name}" here: the models are {model}-text and {model}-image for each model of GET /models`,
      'model_not_found',
    );
  }
  const model = registry.get(id);
  noteModel(request, model);
  return { model, encoder: match[2] as Encoder };
}

const nameModel = (reply: FastifyReply, model: ServedModel): void => {
  void reply.header(MODEL_HEADER, model.sha256);
};

export const openInferenceRoutes: FastifyPluginCallback = (app, _options, done) => {
  const state = app.serviceState;
  const publicRoute = { ...PUBLIC, ...OPEN_INFERENCE };

  app.get('/v2', { config: OPEN_INFERENCE, schema: { response: { 200: ref('InferenceServerMetadata') } } }, () => ({
    name: 'unimed-serve',
    version: SERVICE_VERSION,
    extensions: [...EXTENSIONS],
  }));

  app.get('/v2/health/live', { config: publicRoute, schema: { response: { 200: ref('InferenceLiveResponse') } } }, () => ({
    live: true,
  }));

  app.get('/v2/health/ready', { config: publicRoute, schema: { response: { 200: ref('InferenceReadyResponse') } } }, () => {
    readyModels(state);
    return { ready: true };
  });

  app.get<{ Params: { name: string } }>(
    '/v2/models/:name',
    { config: OPEN_INFERENCE, schema: { params: NAME_PARAMS, response: { 200: ref('InferenceModelMetadata') } } },
    (request, reply) => {
      const { model, encoder } = servedEncoder(request, state.requireRegistry(), request.params.name);
      nameModel(reply, model);
      return {
        name: request.params.name,
        platform: 'onnxruntime_onnx',
        inputs: [{ name: INPUT_NAME[encoder], datatype: 'BYTES', shape: [-1] }],
        outputs: [{ name: OUTPUT_NAME, datatype: 'FP32', shape: [-1, model.embedDim] }],
      };
    },
  );

  app.get<{ Params: { name: string } }>(
    '/v2/models/:name/ready',
    { config: OPEN_INFERENCE, schema: { params: NAME_PARAMS, response: { 200: ref('InferenceModelReady') } } },
    (request, reply) => {
      // 503 while starting or draining; an unknown name is 404 once models are loaded.
      const { model } = servedEncoder(request, state.acceptWork(), request.params.name);
      nameModel(reply, model);
      if (!model.live())
        throw unavailable(`model ${model.id} has an encoder with no live inference worker; replacements are being started`, 'not_ready', 5);
      return { name: request.params.name, ready: true };
    },
  );
  done();
};
