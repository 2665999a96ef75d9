import type { FastifyPluginCallback } from 'fastify';
import type { ClassifyFields } from '../../service/classes.ts';
import { classifySeries, type SeriesClassification } from '../../service/classify.ts';
import { embedWholeSeries } from '../../service/embed.ts';
import { sendDicomSr, wantsDicomSr } from './dicom-sr.ts';
import type { EmbeddedSlice } from '../../service/series.ts';
import { modelChooser } from '../plugins/admission.ts';
import { classificationObservation, FHIR_MEDIA_TYPE, wantsFhir } from './fhir.ts';
import { ref } from '../openapi/schemas.ts';
import { trustFields } from './trust-fields.ts';
import { seriesRequestReader } from '../readers/series-request.ts';
import { toNumbers } from '../../vectors.ts';

/** The slice record both routes answer: place in the series, Instance Number, and the UID only when asked for. */
function sliceRecord(slice: EmbeddedSlice, includeUids: boolean): Record<string, unknown> {
  return {
    index: slice.index,
    instance_number: slice.instanceNumber,
    ...(includeUids && slice.uid !== undefined ? { instance_uid: slice.uid } : {}),
  };
}

/** The JSON answer of /classify/series (and each series of a job's result, routes/jobs.ts). */
export function classifySeriesBody(result: SeriesClassification, fields: ClassifyFields, includeUids: boolean): Record<string, unknown> {
  const { model, classes, predictions, trust, embedded } = result;
  return {
    model: model.id,
    ...(classes.promptSet === undefined ? {} : { prompt_set: classes.promptSet }),
    series: { instances: embedded.instances, sampled: embedded.slices.length },
    predictions: fields.top_k === undefined ? predictions : predictions.slice(0, Math.max(0, fields.top_k)),
    ...trustFields(trust),
    slices: embedded.slices.map((slice, i) => {
      const { label, probability } = result.slicePredictions[i]!;
      return { ...sliceRecord(slice, includeUids), label, probability };
    }),
  };
}

/**
 * POST /classify/series and /embed/series: a whole series (a DICOMweb reference or uploaded instances), sampled
 * evenly in slice order, embedded slice by slice through the batcher and aggregated into one embedding
 * (service/series.ts).
 */
export const seriesRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits } = app.config;
  const readerLimits = { bodyBytes: limits.bodyBytes, maxSeriesInstances: limits.seriesInstances };
  const readClassify = seriesRequestReader<ClassifyFields>({ path: '/classify/series', schema: 'ClassifySeriesRequest' }, readerLimits);
  const readEmbed = seriesRequestReader<{ model?: string }>({ path: '/embed/series', schema: 'EmbedSeriesRequest' }, readerLimits);

  app.post(
    '/classify/series',
    {
      schema: {
        body: { content: { 'application/json': { schema: ref('ClassifySeriesRequest') } } },
        response: { 200: ref('ClassifySeriesResponse') },
      },
    },
    async (request, reply) => {
      const { series, slices, includeUids, rendering, fields } = await readClassify(request);
      const report = wantsDicomSr(request);
      const input = { series, slices, rendering, fields, report };
      const result = await classifySeries(input, modelChooser(request, reply), app.useCaseServices, request.workContext);
      const { model, classes, predictions, trust } = result;
      if (report) return sendDicomSr(reply, result, rendering, app.useCaseServices.trustPolicy);
      if (wantsFhir(request)) {
        const studyUid = 'reference' in series ? series.reference.study : undefined;
        return reply
          .type(FHIR_MEDIA_TYPE)
          .send(
            JSON.stringify(
              classificationObservation({ model, promptSet: classes.promptSet, predictions, abstained: trust.abstained, studyUid }),
            ),
          );
      }
      return classifySeriesBody(result, fields, includeUids);
    },
  );

  app.post(
    '/embed/series',
    {
      schema: {
        body: { content: { 'application/json': { schema: ref('EmbedSeriesRequest') } } },
        response: { 200: ref('EmbedSeriesResponse') },
      },
    },
    async (request, reply) => {
      const { series, slices, includeUids, rendering, fields } = await readEmbed(request);
      const input = { series, slices, rendering, model: fields.model };
      const { model, embedded } = await embedWholeSeries(input, modelChooser(request, reply), app.useCaseServices, request.workContext);
      return {
        model: model.id,
        dim: model.embedDim,
        series: { instances: embedded.instances, sampled: embedded.slices.length },
        embedding: toNumbers(embedded.embedding),
        slices: embedded.slices.map((slice) => ({ ...sliceRecord(slice, includeUids), embedding: Array.from(slice.embedding) })),
      };
    },
  );
  done();
};
