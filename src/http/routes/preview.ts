import type { FastifyPluginCallback } from 'fastify';
import sharp from 'sharp';
import { previewModelInput } from '../../service/embed.ts';
import { modelChooser } from '../plugins/admission.ts';
import { IMAGE_QUERY, imageRequestReader } from '../readers/image-request.ts';
import { ref } from '../openapi/schemas.ts';

/** The header that carries the preprocessing record, since the body is the PNG. */
export const PREPROCESSING_HEADER = 'x-preprocessing';

/**
 * JSON for a header value: JSON.stringify escapes control characters, and everything outside printable ASCII
 * is escaped too (a header cannot carry it; JSON.parse restores it).
 */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * POST /preview: the S x S RGB image the model will see for this input (after windowing, resize and crop,
 * before normalization) as a PNG, so an integrator can check the windowing by eye. Runs no model.
 */
export const previewRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const readRequest = imageRequestReader<{ model?: string }>(
    {
      path: '/preview',
      schema: 'PreviewRequest',
      imageProperty: 'image',
      raw: true,
      usage: 'send an image body, a multipart "image" part, or JSON {"image": base64}',
    },
    limits,
  );

  app.post(
    '/preview',
    {
      // A large JSON body's base64 images are decoded off the HTTP thread (readers/json-body.ts).
      config: { jsonImages: true },
      schema: {
        querystring: IMAGE_QUERY,
        body: { content: { 'application/json': { schema: ref('PreviewRequest') } } },
      },
    },
    async (request, reply) => {
      const { images, retrievalBytes, rendering, fields } = await readRequest(request);
      const input = { images, retrievalBytes, rendering, model: fields.model };
      const { view, preprocessing } = await previewModelInput(
        input,
        modelChooser(request, reply),
        app.useCaseServices,
        request.workContext,
      );
      const size = preprocessing.transform.size;
      const png = await sharp(view, { raw: { width: size, height: size, channels: 3 } })
        .timeout({ seconds: Math.ceil(app.config.decoderTimeoutMs / 1000) })
        .png()
        .toBuffer();
      return reply.header(PREPROCESSING_HEADER, headerJson(preprocessing)).type('image/png').send(png);
    },
  );
  done();
};
