import type { FastifyPluginCallback } from 'fastify';
import { classifyImage } from '../../service/classify.ts';
import { sendDicomSr, wantsDicomSr } from './dicom-sr.ts';
import type { ClassifyFields } from '../../service/classes.ts';
import { modelChooser } from '../plugins/admission.ts';
import { classificationObservation, FHIR_MEDIA_TYPE, wantsFhir } from './fhir.ts';
import { imageRequestReader } from '../readers/image-request.ts';
import { ref } from '../openapi/schemas.ts';
import { trustFields } from './trust-fields.ts';

/** POST /classify: zero-shot classification of one image against inline labels or a named prompt set (service/classify.ts). */
export const classifyRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const readRequest = imageRequestReader<ClassifyFields>(
    {
      path: '/classify',
      schema: 'ClassifyRequest',
      imageProperty: 'image',
      raw: false,
      usage: 'send multipart with an "image" part, or JSON {"image": base64, ...}',
    },
    limits,
  );

  app.post(
    '/classify',
    {
      // A large JSON body's base64 images are decoded off the HTTP thread (readers/json-body.ts).
      config: { jsonImages: true },
      schema: {
        body: { content: { 'application/json': { schema: ref('ClassifyRequest') } } },
        response: { 200: ref('ClassifyResponse') },
      },
    },
    async (request, reply) => {
      const { images, retrievalBytes, rendering, fields } = await readRequest(request);
      const [image] = images;
      if (image === undefined) throw new Error('the request reader returned no image');
      const report = wantsDicomSr(request);
      const input = { image, retrievalBytes, rendering, fields, report };
      const result = await classifyImage(input, modelChooser(request, reply), app.useCaseServices, request.workContext);
      const { model, classes, predictions, trust } = result;
      if (report) return sendDicomSr(reply, result, rendering, app.useCaseServices.trustPolicy);
      if (wantsFhir(request)) {
        const observation = classificationObservation({
          model,
          promptSet: classes.promptSet,
          predictions,
          abstained: trust.abstained,
          studyUid: result.studyUid,
        });
        return reply.type(FHIR_MEDIA_TYPE).send(JSON.stringify(observation));
      }
      return {
        model: model.id,
        ...(classes.promptSet === undefined ? {} : { prompt_set: classes.promptSet }),
        predictions: fields.top_k === undefined ? predictions : predictions.slice(0, Math.max(0, fields.top_k)),
        ...trustFields(trust),
        preprocessing: result.preprocessing,
      };
    },
  );
  done();
};
