/**
 * POST /v2/models/{name}/infer, the Open Inference Protocol's inference: a thin adapter over the same use cases as
 * /embed/text and /embed/image (service/embed.ts), so the cache, the batcher and every limit are theirs. The input
 * is one BYTES tensor (`text`: UTF-8 strings; `image`: encoded files, base64 in JSON with `content_type: base64`,
 * raw or base64 in binary form); the output is `embedding`, FP32 [N, dim], row-major, in JSON or in binary.
 * Registered in the inference routes' context (admission, 503s, outcome counting), with its own body parsers.
 */
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { badRequest, tooLarge, unsupportedMediaType } from '../../errors.ts';
import { dataUrlMediaType, decodeBase64Image } from '../../inputs/base64.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import { embedImages, embedTexts, type Embedded } from '../../service/embed.ts';
import type { GivenImage } from '../../service/images.ts';
import { isRecord } from '../../records.ts';
import { ref } from '../openapi/schemas.ts';
import { modelChooser } from '../plugins/admission.ts';
import { IMAGE_OPTION_NAMES, imageOptions } from '../readers/image-options.ts';
import { tooManyImages } from '../readers/image-limit.ts';
import {
  BINARY_HEADER,
  BinaryData,
  bodyBytes,
  bytesTensor,
  elementCount,
  inferenceBodyParser,
  stringParameter,
  textElement,
  type BytesElement,
  type InferenceRequestBody,
  type TensorInput,
} from '../readers/open-inference-request.ts';
import { INPUT_NAME, NAME_PARAMS, OPEN_INFERENCE, OUTPUT_NAME, servedEncoder, type Encoder } from './open-inference.ts';

type InferRequest = FastifyRequest<{ Params: { name: string }; Body: InferenceRequestBody }>;

/** The one input of an encoder, as a BYTES tensor of shape [N] or [N, 1]. */
function theInput(body: InferenceRequestBody, encoder: Encoder, name: string): TensorInput {
  const expected = INPUT_NAME[encoder];
  const input = body.inputs.find((i) => i.name === expected);
  const other = body.inputs.find((i) => i.name !== expected);
  if (other !== undefined) throw badRequest(`unknown input "${other.name}": model ${name} has one input, "${expected}"`);
  if (input === undefined || body.inputs.length !== 1) throw badRequest(`model ${name} takes exactly one input, "${expected}"`);
  if (input.datatype !== 'BYTES') throw badRequest(`input "${expected}" of model ${name} has datatype BYTES, not ${input.datatype}`);
  const [count, second] = input.shape;
  if (count === undefined || input.shape.length > 2 || (second !== undefined && second !== 1) || count < 1)
    throw badRequest(`input "${expected}" has shape [N] or [N, 1] with N at least 1, not [${input.shape.join(', ')}]`);
  return input;
}

/** Whether the output goes back as binary data (its `binary_data`, else the request's `binary_data_output`). */
function binaryOutput(body: InferenceRequestBody, name: string): boolean {
  const unknown = body.outputs?.find((o) => o.name !== OUTPUT_NAME);
  if (unknown !== undefined) throw badRequest(`unknown output "${unknown.name}": model ${name} has one output, "${OUTPUT_NAME}"`);
  const all = isRecord(body.parameters) ? body.parameters.binary_data_output : undefined;
  const own = body.outputs?.[0]?.parameters?.binary_data;
  for (const [value, what] of [
    [all, 'parameters.binary_data_output'],
    [own, `outputs[0].parameters.binary_data`],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw badRequest(`${what} must be true or false`);
  }
  return (own ?? all ?? false) === true;
}

/** An image element: base64 text (with `content_type: base64`; a `data:application/dicom;base64,` URL declares DICOM), or raw bytes. */
function imageElement(element: BytesElement, base64: boolean, input: string, index: number): GivenImage {
  const what = `input "${input}" element ${index}`;
  if (!base64) {
    if (typeof element === 'string')
      throw badRequest(`input "${input}" carries images as base64 strings: declare it with parameters {"content_type": "base64"}`);
    return { bytes: element, declaredDicom: false };
  }
  const text = typeof element === 'string' ? element : element.toString('latin1');
  return { bytes: decodeBase64Image(text, what), declaredDicom: dataUrlMediaType(text) === DICOM_MEDIA_TYPE };
}

/** The answer: JSON, or with `binary` the JSON followed by the FP32 data (little-endian), as the extension has it. */
function answer(reply: FastifyReply, body: InferenceRequestBody, name: string, embedded: Embedded, binary: boolean) {
  const { embeddings, model } = embedded;
  const dim = model.embedDim;
  const data = new Float32Array(embeddings.length * dim);
  embeddings.forEach((e, i) => data.set(e, i * dim));
  const output = { name: OUTPUT_NAME, datatype: 'FP32', shape: [embeddings.length, dim] };
  const head = { model_name: name, ...(body.id === undefined ? {} : { id: body.id }) };
  if (!binary) return { ...head, outputs: [{ ...output, data: Array.from(data) }] };
  const bytes = Buffer.alloc(data.length * 4);
  data.forEach((value, i) => bytes.writeFloatLE(value, i * 4));
  const json = Buffer.from(JSON.stringify({ ...head, outputs: [{ ...output, parameters: { binary_data_size: bytes.length } }] }));
  void reply.header(BINARY_HEADER, String(json.length)).type('application/octet-stream');
  return reply.send(Buffer.concat([json, bytes]));
}

export const openInferenceInfer: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const images = { max: limits.imagesPerRequest, rule: `MAX_IMAGES_PER_REQUEST allows ${limits.imagesPerRequest}` };
  const textTooLarge = () => tooLarge(`the request body is larger than MAX_TEXT_BODY_BYTES allows (${limits.textBodyBytes} bytes)`);

  // This context reads JSON, and JSON followed by binary tensor data; nothing else (415).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: limits.bodyBytes },
    inferenceBodyParser(parseJson),
  );
  app.addContentTypeParser('*', (_request, _payload, done) => {
    done(unsupportedMediaType(`the body is application/json, or application/octet-stream with ${BINARY_HEADER} (binary tensor data)`));
  });

  const bodySchema = { schema: ref('InferenceRequest') };
  app.post<{ Params: { name: string }; Body: InferenceRequestBody }>(
    '/v2/models/:name/infer',
    {
      config: OPEN_INFERENCE,
      // Before the body is read (after the key, admission and rate checks): an unknown model (or one the key may
      // not use) is 404, and a text model takes MAX_TEXT_BODY_BYTES, as /embed/text (a declared length over it is 413).
      preParsing: (request, _reply, payload, done) => {
        try {
          const { encoder } = servedEncoder(request, request.modelRegistry, request.params.name);
          const declared = Number(request.headers['content-length']);
          if (encoder === 'text' && declared > limits.textBodyBytes) throw textTooLarge();
        } catch (err) {
          done(err as Error);
          return;
        }
        done(null, payload);
      },
      schema: {
        params: NAME_PARAMS,
        body: { content: { 'application/json': bodySchema, 'application/octet-stream': bodySchema } },
        response: {
          200: {
            content: {
              'application/json': { schema: ref('InferenceResponse') },
              'application/octet-stream': { schema: { type: 'string' } },
            },
          },
        },
      },
    },
    async (request: InferRequest, reply) => {
      const { name } = request.params;
      const { model, encoder } = servedEncoder(request, request.modelRegistry, name);
      const { body } = request;
      if (encoder === 'text' && bodyBytes(request) > limits.textBodyBytes) throw textTooLarge();
      const input = theInput(body, encoder, name);
      const binary = binaryOutput(body, name);
      const contentType = stringParameter(input.parameters, 'content_type');
      const data = new BinaryData(request);
      const choose = modelChooser(request, reply);
      const { useCaseServices: services } = app;
      if (encoder === 'text') {
        if (contentType !== undefined && contentType !== 'str')
          throw badRequest(`input "${input.name}" holds UTF-8 text: its content_type is "str" or none, not "${contentType}"`);
        const elements = bytesTensor(input, data);
        data.finish();
        const texts = elements.map((element, i) => textElement(element, input.name, i));
        return answer(reply, body, name, await embedTexts({ texts, model: model.id }, choose, services, request.workContext), binary);
      }
      if (contentType !== undefined && contentType !== 'base64')
        throw badRequest(
          `input "${input.name}" holds encoded image files: its content_type is "base64" or none (raw bytes), not "${contentType}"`,
        );
      // Counted from the shape before anything is decoded.
      const count = elementCount(input);
      if (count > images.max) throw tooManyImages(count, images, input.name);
      const elements = bytesTensor(input, data);
      data.finish();
      const given = elements.map((element, i) => imageElement(element, contentType === 'base64', input.name, i));
      // The rendering parameters (window, frame, ...) are the request's parameters, for every image.
      const parameters = isRecord(body.parameters) ? body.parameters : {};
      const rendering = imageOptions(Object.fromEntries(IMAGE_OPTION_NAMES.map((option) => [option, parameters[option]])), 'property');
      const imagesInput = { images: given, retrievalBytes: 0, rendering, model: model.id };
      return answer(reply, body, name, await embedImages(imagesInput, choose, services, request.workContext), binary);
    },
  );
  done();
};
