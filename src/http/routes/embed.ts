import type { FastifyPluginCallback } from 'fastify';
import { badRequest, inField, tooLarge, unsupportedMediaType } from '../../errors.ts';
import { pickModel, requestedModel } from '../admission.ts';
import { decodeDeps, decodeImages } from '../decode-images.ts';
import { IMAGE_QUERY, imageRequestReader } from '../image-request.ts';
import { ref } from '../schemas.ts';
import { checkTextLengths } from '../text-limits.ts';

/** The JSON body (schema EmbedTextRequest). */
interface EmbedTextBody {
  texts: string[];
  model?: string;
}

/** POST /embed/text and POST /embed/image: L2-normalized embeddings, in request order. */
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
      const { texts } = body;
      if (texts.length > limits.textsPerRequest) {
        throw inField(
          'texts',
          tooLarge(`${texts.length} texts sent, MAX_TEXTS_PER_REQUEST allows ${limits.textsPerRequest}`, 'too_many_texts'),
        );
      }
      checkTextLengths(texts, limits.charsPerText, 'text', 'texts');
      const model = pickModel(request, reply, requestedModel(request.query.model, body.model));
      const embeddings = await model.embedTexts(texts, request.cancellation);
      return { model: model.id, dim: model.embedDim, embeddings: embeddings.map((e) => Array.from(e)) };
    },
  );

  app.post(
    '/embed/image',
    {
      schema: {
        querystring: IMAGE_QUERY,
        body: { content: { 'application/json': { schema: ref('EmbedImageRequest') } } },
        response: { 200: ref('EmbedImageResponse') },
      },
    },
    async (request, reply) => {
      const { images, rendering, fields } = await readImages(request);
      const model = pickModel(request, reply, fields.model);
      const decoded = await decodeImages(images, model, decodeDeps(request), rendering);
      const embeddings = await model.embedImages(
        decoded.map((d) => d.pixels),
        request.cancellation,
      );
      return {
        model: model.id,
        dim: model.embedDim,
        embeddings: embeddings.map((e) => Array.from(e)),
        preprocessing: decoded.map((d) => d.preprocessing),
      };
    },
  );
  done();
};
