import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import { IMAGE_MEDIA_TYPES } from '../../inputs/format.ts';
import { admission } from '../plugins/admission.ts';
import { jsonBodyParser } from '../readers/json-body.ts';
import { countOutcome } from '../errors/error-handler.ts';
import { classifyRoutes } from './classify.ts';
import { embedRoutes } from './embed.ts';
import { openInferenceInfer } from './open-inference-infer.ts';
import { openaiEmbeddingRoutes } from './openai.ts';
import { previewRoutes } from './preview.ts';
import { seriesRoutes } from './series.ts';

/**
 * The routes that run models, in one encapsulated context: only they accept image and multipart bodies, are
 * refused (503) before models are loaded or once draining starts, and are counted so shutdown can wait for them.
 */
export async function inferenceRoutes(app: FastifyInstance): Promise<void> {
  const { config, metrics } = app;

  // Inference takes JSON, multipart or (for /embed/image and /preview) an image or DICOM body; plain text is nobody's format here.
  app.removeContentTypeParser('text/plain');
  // JSON must be UTF-8; a large body is read off the HTTP thread (JSON_WORKER_MIN_BYTES, readers/json-body.ts).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  const jsonParser = jsonBodyParser(
    { decoder: app.pixelDecoder, minBytes: config.jsonWorkerMinBytes, maxImages: config.limits.imagesPerRequest },
    parseJson,
  );
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => jsonParser(request, body as Buffer, done));
  // multipart/related: DICOM instances as WADO-RS answers and STOW-RS sends them (src/http/readers/dicomweb-images.ts).
  app.addContentTypeParser(
    [...Object.keys(IMAGE_MEDIA_TYPES), DICOM_MEDIA_TYPE, 'multipart/related'],
    { parseAs: 'buffer', bodyLimit: config.limits.bodyBytes },
    (_request, body, done) => {
      done(null, body);
    },
  );
  await app.register(multipart, {
    limits: { fileSize: config.limits.bodyBytes, files: config.limits.imagesPerRequest, fieldSize: config.limits.bodyBytes },
  });

  await app.register(admission);

  // Each inference request that ends without its result is counted once, by what stopped it.
  app.addHook('onError', (_request, _reply, error, done) => {
    countOutcome(metrics, error);
    done();
  });

  await app.register(embedRoutes);
  await app.register(openaiEmbeddingRoutes);
  await app.register(classifyRoutes);
  await app.register(previewRoutes);
  await app.register(seriesRoutes);
  await app.register(openInferenceInfer);
}
