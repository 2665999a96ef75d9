import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { ServiceError } from '../../errors.ts';
import type { Metrics } from '../../metrics.ts';
import { DICOM_MEDIA_TYPE } from '../../inputs/dicom/index.ts';
import { IMAGE_MEDIA_TYPES } from '../../inputs/format.ts';
import type { ServiceState } from '../state.ts';
import { classifyRoute } from './classify.ts';
import { embedImageRoute, embedTextRoute } from './embed.ts';
import { previewRoute } from './preview.ts';

export interface InferenceDeps {
  state: ServiceState;
  config: Config;
  metrics: Metrics;
}

/**
 * The routes that run models, in one encapsulated context: only they accept image and multipart bodies, are
 * refused (503) before models are loaded or once draining starts, and are counted so shutdown can wait for them.
 */
export function inferenceRoutes(deps: InferenceDeps) {
  return async function inference(app: FastifyInstance): Promise<void> {
    const { state, config, metrics } = deps;

    // Inference takes JSON, multipart or (for /embed/image and /preview) an image or DICOM body; plain text is nobody's format here.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser([...Object.keys(IMAGE_MEDIA_TYPES), DICOM_MEDIA_TYPE], { parseAs: 'buffer', bodyLimit: config.limits.bodyBytes }, (_request, body, done) => {
      done(null, body);
    });
    await app.register(multipart, {
      limits: { fileSize: config.limits.bodyBytes, files: config.limits.imagesPerRequest, fieldSize: config.limits.bodyBytes },
    });

    app.addHook('onRequest', (_request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
      try {
        state.acceptWork();
      } catch (err) {
        if (err instanceof ServiceError) metrics.requestsRejected.inc({ reason: err.code });
        done(err as Error);
        return;
      }
      state.beginWork();
      // 'close' fires once whether the reply was sent or the client left, so the count cannot leak.
      reply.raw.once('close', () => state.endWork());
      done();
    });

    embedTextRoute(app, deps);
    embedImageRoute(app, deps);
    classifyRoute(app, deps);
    previewRoute(app, deps);
  };
}
