import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { badRequest } from '../../errors.ts';
import type { ImageOptions } from '../../inputs/decode.ts';
import type { ImageOptionName } from '../image-options.ts';
import { IMAGE_OPTION_NAMES, imageOptions, imageOptionsFromForm, imageOptionsFromQuery, refuseQueryImageOptions, splitImageOptions } from '../image-options.ts';
import { readForm, singleField } from '../multipart.ts';
import { ref } from '../schemas.ts';
import { base64Image, formImage, modelId, pickModel, previewImage, rawImage } from './common.ts';
import type { ImageInput } from './common.ts';
import { imageQuery } from './embed.ts';
import type { InferenceDeps } from './inference.ts';

/** The header that carries the preprocessing record, since the body is the PNG. */
export const PREPROCESSING_HEADER = 'x-preprocessing';

/**
 * JSON for a header value: JSON.stringify escapes control characters, and everything outside printable ASCII
 * is escaped too (a header cannot carry it; JSON.parse restores it).
 */
export function headerJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

type PreviewBody = { image?: string; model?: string } & Partial<Record<ImageOptionName, unknown>>;

/**
 * POST /preview: the S x S RGB image the model will see for this input (after windowing, resize and crop,
 * before normalization) as a PNG, so an integrator can check the windowing by eye. Runs no model.
 */
export function previewRoute(app: FastifyInstance, { state, config }: InferenceDeps): void {
  app.post<{ Body: Buffer | PreviewBody; Querystring: { model?: string } & Partial<Record<ImageOptionName, string>> }>(
    '/preview',
    {
      schema: {
        querystring: imageQuery,
        body: { content: { 'application/json': { schema: ref('PreviewRequest') } } },
      },
    },
    async (request, reply) => {
      let image: ImageInput;
      let bodyModel: string | undefined;
      let options: ImageOptions;
      if (request.isMultipart()) {
        refuseQueryImageOptions(request, 'multipart');
        const form = await readForm(request, { fileField: 'image', textFields: ['model', ...IMAGE_OPTION_NAMES], maxFiles: 1, maxBytes: config.limits.bodyBytes });
        const file = form.files[0];
        if (file === undefined) throw badRequest('the form has no "image" file part');
        image = formImage(file);
        bodyModel = singleField(form, 'model');
        options = imageOptionsFromForm(form);
      } else if (Buffer.isBuffer(request.body)) {
        image = rawImage(request, request.body);
        options = imageOptionsFromQuery(request);
      } else {
        const body = request.body as PreviewBody | undefined;
        if (body === undefined || typeof body.image !== 'string') throw badRequest('send an image body, a multipart "image" part, or JSON {"image": base64}');
        refuseQueryImageOptions(request, 'JSON');
        options = imageOptions(splitImageOptions(body).options, 'property');
        image = base64Image(body.image, 'image');
        bodyModel = body.model;
      }
      const model = pickModel(state, reply, modelId(request, bodyModel));
      const { view, preprocessing } = await previewImage(image, model, config, options);
      const size = preprocessing.transform.size;
      const png = await sharp(view, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
      return reply.header(PREPROCESSING_HEADER, headerJson(preprocessing)).type('image/png').send(png);
    },
  );
}
