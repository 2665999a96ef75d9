import type { FastifyInstance } from 'fastify';
import { badRequest, tooLarge, unsupportedMediaType } from '../../errors.ts';
import type { ImageOptions } from '../../inputs/decode.ts';
import { IMAGE_OPTION_NAMES, IMAGE_QUERY_PROPERTIES, imageOptions, imageOptionsFromForm, imageOptionsFromQuery, refuseQueryImageOptions, splitImageOptions } from '../image-options.ts';
import type { ImageOptionName } from '../image-options.ts';
import { readForm, singleField } from '../multipart.ts';
import { ref } from '../schemas.ts';
import { base64Image, checkImageCount, checkTextLengths, decodeImages, formImage, modelId, pickModel, rawImage } from './common.ts';
import type { ImageInput } from './common.ts';
import type { InferenceDeps } from './inference.ts';

const modelQuery = { type: 'object', additionalProperties: false, properties: { model: ref('ModelId') } } as const;

export function embedTextRoute(app: FastifyInstance, { state, config }: InferenceDeps): void {
  app.post<{ Body: { texts: string[]; model?: string }; Querystring: { model?: string } }>(
    '/embed/text',
    {
      schema: {
        querystring: modelQuery,
        body: { content: { 'application/json': { schema: ref('EmbedTextRequest') } } },
        response: { 200: ref('EmbedTextResponse') },
      },
    },
    async (request, reply) => {
      if (request.isMultipart() || Buffer.isBuffer(request.body)) throw unsupportedMediaType('/embed/text takes application/json');
      const body = request.body as { texts: string[]; model?: string } | undefined;
      if (body === undefined || !Array.isArray(body.texts)) throw badRequest('send JSON {"texts": [...]}');
      const { texts } = body;
      if (texts.length > config.limits.textsPerRequest) {
        throw tooLarge(`${texts.length} texts sent, MAX_TEXTS_PER_REQUEST allows ${config.limits.textsPerRequest}`, 'too_many_texts');
      }
      checkTextLengths(texts, config, 'text');
      const model = pickModel(state, reply, modelId(request, body.model));
      const embeddings = await model.embedTexts(texts, request.work);
      return { model: model.id, dim: model.embedDim, embeddings: embeddings.map((e) => Array.from(e)) };
    },
  );
}

/** Query string of the routes that take a raw image body: the model and the rendering parameters. */
export const imageQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { model: ref('ModelId'), ...IMAGE_QUERY_PROPERTIES },
} as const;

type ImageQuery = { model?: string } & Partial<Record<ImageOptionName, string>>;

export function embedImageRoute(app: FastifyInstance, { state, config }: InferenceDeps): void {
  app.post<{ Body: Buffer | ({ images: string[]; model?: string } & Partial<Record<ImageOptionName, unknown>>); Querystring: ImageQuery }>(
    '/embed/image',
    {
      schema: {
        querystring: imageQuery,
        body: { content: { 'application/json': { schema: ref('EmbedImageRequest') } } },
        response: { 200: ref('EmbedImageResponse') },
      },
    },
    async (request, reply) => {
      let images: ImageInput[];
      let bodyModel: string | undefined;
      let options: ImageOptions;
      if (request.isMultipart()) {
        refuseQueryImageOptions(request, 'multipart');
        const form = await readForm(request, {
          fileField: 'image',
          textFields: ['model', ...IMAGE_OPTION_NAMES],
          maxFiles: config.limits.imagesPerRequest,
          maxBytes: config.limits.bodyBytes,
        });
        images = form.files.map(formImage);
        bodyModel = singleField(form, 'model');
        options = imageOptionsFromForm(form);
      } else if (Buffer.isBuffer(request.body)) {
        images = [rawImage(request, request.body)];
        options = imageOptionsFromQuery(request);
      } else {
        const body = request.body as ({ images?: string[]; model?: string } & Record<string, unknown>) | undefined;
        if (body === undefined || !Array.isArray(body.images)) throw badRequest('send an image body, multipart "image" parts, or JSON {"images": [...]}');
        refuseQueryImageOptions(request, 'JSON');
        checkImageCount(body.images.length, config);
        options = imageOptions(splitImageOptions(body).options, 'property');
        images = body.images.map((text, i) => base64Image(text, `images[${i}]`));
        bodyModel = body.model;
      }
      checkImageCount(images.length, config);
      const model = pickModel(state, reply, modelId(request, bodyModel));
      const decoded = await decodeImages(images, model, config, options);
      const embeddings = await model.embedImages(
        decoded.map((d) => d.pixels),
        request.work,
      );
      return {
        model: model.id,
        dim: model.embedDim,
        embeddings: embeddings.map((e) => Array.from(e)),
        preprocessing: decoded.map((d) => d.preprocessing),
      };
    },
  );
}
