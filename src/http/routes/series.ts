import type { FastifyPluginCallback } from 'fastify';
import type { Prediction } from '../../models/types.ts';
import { pickModel } from '../admission.ts';
import { classificationObservation, FHIR_MEDIA_TYPE, wantsFhir } from '../fhir.ts';
import { ref } from '../schemas.ts';
import { seriesRequestReader } from '../series-request.ts';
import { embedSeries, type EmbeddedSlice, type SeriesDeps } from '../series-slices.ts';
import { checkClassSource, resolveClasses, type ClassifyFields } from './classify.ts';

/** The slice record both routes answer: place in the series, Instance Number, and the UID only when asked for. */
function sliceRecord(slice: EmbeddedSlice, includeUids: boolean): Record<string, unknown> {
  return {
    index: slice.index,
    instance_number: slice.instanceNumber,
    ...(includeUids && slice.uid !== undefined ? { instance_uid: slice.uid } : {}),
  };
}

/**
 * POST /classify/series and /embed/series: a whole series (a DICOMweb reference or uploaded instances), sampled
 * evenly in slice order, embedded slice by slice through the batcher and aggregated into one embedding.
 */
export const seriesRoutes: FastifyPluginCallback = (app, _options, done) => {
  const { limits, decoderThreads } = app.config;
  const deps: SeriesDeps = {
    limits: { bodyBytes: limits.bodyBytes, maxSeriesSlices: limits.seriesSlices, maxSeriesInstances: limits.seriesInstances },
    uploadParallelism: decoderThreads,
  };
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
      checkClassSource(fields);
      const model = pickModel(request, reply, fields.model);
      const classes = resolveClasses(model, fields, limits);
      const embedded = await embedSeries(request, series, slices, model, rendering, deps);
      const classEmbeddings = await classes.embed(request.cancellation);
      const top = (embedding: Float32Array): Prediction => model.classify(embedding, classEmbeddings, classes.labels, 1)[0]!;
      if (wantsFhir(request)) {
        const predictions = model.classify(embedded.embedding, classEmbeddings, classes.labels);
        const studyUid = 'reference' in series ? series.reference.study : undefined;
        return reply
          .type(FHIR_MEDIA_TYPE)
          .send(JSON.stringify(classificationObservation({ model, promptSet: classes.promptSet, predictions, studyUid })));
      }
      return {
        model: model.id,
        ...(classes.promptSet === undefined ? {} : { prompt_set: classes.promptSet }),
        series: { instances: embedded.instances, sampled: embedded.slices.length },
        predictions: model.classify(embedded.embedding, classEmbeddings, classes.labels, fields.top_k),
        slices: embedded.slices.map((slice) => {
          const { label, probability } = top(slice.embedding);
          return { ...sliceRecord(slice, includeUids), label, probability };
        }),
      };
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
      const model = pickModel(request, reply, fields.model);
      const embedded = await embedSeries(request, series, slices, model, rendering, deps);
      return {
        model: model.id,
        dim: model.embedDim,
        series: { instances: embedded.instances, sampled: embedded.slices.length },
        embedding: Array.from(embedded.embedding),
        slices: embedded.slices.map((slice) => ({ ...sliceRecord(slice, includeUids), embedding: Array.from(slice.embedding) })),
      };
    },
  );
  done();
};
