import type { FastifyPluginCallback } from 'fastify';
import { badRequest, inField, unsupportedMediaType } from '../../errors.ts';
import { embedImages, embedTexts } from '../../service/embed.ts';
import { modelChooser, requestedModel } from '../plugins/admission.ts';
import { IMAGE_QUERY, imageRequestReader } from '../readers/image-request.ts';
import { ref } from '../openapi/schemas.ts';
import { toNumbers } from '../../vectors.ts';

/** The JSON body (schema EmbedTextRequest). */
interface EmbedTextBody {
  texts: string[];
  model?: string;
}

/** POST /embed/text and POST /embed/image: L2-normalized embeddings, in request order (service/embed.ts). */
export const embedRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const readImages = imageRequestReader<{ model?: string }>(
    {
      path: '/embed/image',
      schema: 'EmbedImageRequest',
      imageProperty: 'images',
      raw: true,
      usage: 'send an image body, multipart "image" parts, or JSON {"images": [...]}',
    },
    limits,
  );

  // The body is the schema's only with a JSON content type; a raw image arrives as a Buffer, multipart or no body as nothing.
  app.post<{ Body: EmbedTextBody | Buffer | undefined; Querystring: { model?: string } }>(
    '/embed/text',
    {
      // A JSON text request needs far less than MAX_BODY_BYTES (413 too_large past it, before the body is read).
      bodyLimit: app.config.limits.textBodyBytes,
      config: { bodyLimitName: 'MAX_TEXT_BODY_BYTES' },
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { model: ref('ModelId') } },
        body: { content: { 'application/json': { schema: ref('EmbedTextRequest') } } },
        response: { 200: ref('EmbedTextResponse') },
      },
    },
    async (request, reply) => {
      const { body } = request;
      if (request.isMultipart() || Buffer.isBuffer(body)) throw unsupportedMediaType('/embed/text takes application/json');
      if (body === undefined) throw inField('texts', badRequest('send JSON {"texts": [...]}'));
      const input = { texts: body.texts, model: requestedModel(request.query.model, body.model) };
      const { model, embeddings } = await embedTexts(input, modelChooser(request, reply), app.useCaseServices, request.workContext);
      return { model: model.id, dim: model.embedDim, embeddings: embeddings.map(toNumbers) };
    },
  );

  app.post(
    '/embed/image',
    {
      // A large JSON body's base64 images are decoded off the HTTP thread (readers/json-body.ts).
      config: { jsonImages: true },
      schema: {
        querystring: IMAGE_QUERY,
        body: { content: { 'application/json': { schema: ref('EmbedImageRequest') } } },
        response: { 200: ref('EmbedImageResponse') },
      },
    },
    async (request, reply) => {
      const { images, retrievalBytes, rendering, fields } = await readImages(request);
      const input = { images, retrievalBytes, rendering, model: fields.model };
      const { model, embeddings, preprocessing } = await embedImages(
        input,
        modelChooser(request, reply),
        app.useCaseServices,
        request.workContext,
      );
      return { model: model.id, dim: model.embedDim, embeddings: embeddings.map(toNumbers), preprocessing };
    },
  );
  done();
};
