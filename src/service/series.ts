/**
 * A series as embedded slices: listed (QIDO-RS) or uploaded, put in slice order, sampled evenly, then each sampled
 * instance retrieved (WADO-RS, as stored), decoded through the same path as an upload and embedded through the
 * batcher, a few at a time so that at most that many instances and model inputs are held at once. The series
 * embedding is the normalized mean of the slice embeddings (docs/pacs.md says why).
 */
import type { ImagePreprocessing } from '../api-types.ts';
import { badRequest, inField, tooLarge, withContext } from '../errors.ts';
import type { ImageInput, ImageOptions } from '../inputs/decode.ts';
import { uploadedOrder } from '../dicomweb/instance-order.ts';
import type { SeriesReference } from '../dicomweb/reference.ts';
import { evenSample, sliceOrder, type OrderKey } from '../dicomweb/series.ts';
import type { DicomwebSources } from '../dicomweb/sources.ts';
import type { ServedModel } from '../models/types.ts';
import { l2normalize } from '../vectors.ts';
import type { WorkContext } from './context.ts';
import { decodeImages, type DecodeServices } from './model-inputs.ts';
import { readSourceInstance, type SourceInstance } from '../dicom-sr/source.ts';

/** The series a request names: a reference on a DICOMweb source, or the instances it uploaded. */
export type SeriesInput = { reference: SeriesReference } | { instances: ImageInput[] };

/** How many slices: a number, or every instance (`all`, up to MAX_SERIES_SLICES). */
export type SliceCount = number | 'all';

export interface EmbeddedSlice {
  /** Position in slice order (0-based, over the whole series). */
  index: number;
  instanceNumber: number | null;
  /** The SOP Instance UID, when known; the route sends it only when the request sets include_uids. */
  uid: string | undefined;
  embedding: Float32Array;
  preprocessing: ImagePreprocessing;
  /** The instance's UIDs and patient and study attributes, read only for a DICOM SR (`readSources`). */
  source?: SourceInstance;
}

export interface EmbeddedSeries {
  /** Instances in the series (listed or uploaded). */
  instances: number;
  slices: EmbeddedSlice[];
  /** The normalized mean of the slice embeddings. */
  embedding: Float32Array;
}

interface Candidate extends OrderKey {
  uid: string | undefined;
  bytes?: Buffer;
  declaredDicom?: boolean;
}

export interface SeriesDeps {
  limits: { bodyBytes: number; maxSeriesSlices: number; maxSeriesInstances: number };
  /** Instances decoded at once from an upload (the decoder threads). */
  uploadParallelism: number;
  sources: DicomwebSources;
  decoding: DecodeServices;
}

/**
 * Runs `work` over `items` with at most `limit` running at once, results in order; the first failure fails all and
 * starts no more work.
 */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const run = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const i = next++;
      try {
        results[i] = await work(items[i]!, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}

/** Slices sampled when the request does not say (docs/pacs.md "Whole series"), unless MAX_SERIES_SLICES is lower. */
export const DEFAULT_SLICES = 16;

function sampleSize(count: SliceCount | undefined, total: number, max: number): number {
  if (count === undefined) return Math.min(DEFAULT_SLICES, max, total);
  if (count === 'all') {
    if (total > max)
      throw tooLarge(`the series has ${total} instances, MAX_SERIES_SLICES allows ${max} with slices: "all"`, 'too_many_images');
    return total;
  }
  if (count > max) throw tooLarge(`slices ${count} is over MAX_SERIES_SLICES (${max})`, 'too_many_images');
  return Math.min(count, total);
}

export function meanEmbedding(embeddings: readonly Float32Array[]): Float32Array {
  const [first] = embeddings;
  if (first === undefined) throw new Error('a series embedding needs at least one slice');
  const mean = new Float32Array(first.length);
  for (const e of embeddings) for (let i = 0; i < e.length; i++) mean[i] = mean[i]! + e[i]!;
  return l2normalize(mean);
}

/**
 * The series as embedded slices: listed and retrieved from its DICOMweb source, or uploaded; decoded with the
 * service's limits and memory budget and the work's deadline and trace, exactly as an upload to /embed/image.
 * With `readSources`, each sampled instance's header is read for a DICOM SR once it has decoded (a 406 when it
 * lacks a UID the SR needs).
 */
export async function embedSeries(
  series: SeriesInput,
  count: SliceCount | undefined,
  model: ServedModel,
  rendering: ImageOptions,
  deps: SeriesDeps,
  context: WorkContext,
  readSources = false,
): Promise<EmbeddedSeries> {
  const { limits, sources } = deps;
  let candidates: Candidate[];
  let parallel = deps.uploadParallelism;
  if ('reference' in series) {
    const listed = await sources.listSeries(series.reference, context, limits.bodyBytes).catch((err: unknown) => {
      throw inField('dicomweb', err);
    });
    if (listed.length > limits.maxSeriesInstances) {
      throw tooLarge(
        `the series lists ${listed.length} instances, MAX_SERIES_INSTANCES allows ${limits.maxSeriesInstances}`,
        'too_many_images',
      );
    }
    candidates = listed;
    parallel = sources.concurrencyOf(series.reference.source);
  } else {
    if (series.instances.length === 0)
      throw badRequest('no instance was sent: send DICOM files as "image" parts, or a dicomweb series reference');
    candidates = series.instances.map((image) => ({
      ...uploadedOrder(image.bytes),
      bytes: image.bytes,
      declaredDicom: image.declaredDicom ?? true,
    }));
  }
  const retrieve = (uid: string | undefined): Promise<Buffer> => {
    if (!('reference' in series) || uid === undefined) throw new Error('an uploaded instance without its bytes');
    return sources.retrieveInstance({ ...series.reference, instance: uid }, context, limits.bodyBytes);
  };
  const order = sliceOrder(candidates);
  const positions = evenSample(order.length, sampleSize(count, order.length, limits.maxSeriesSlices));
  const decoded = await mapLimit(positions, parallel, async (position) => {
    const candidate = candidates[order[position]!]!;
    try {
      const bytes = candidate.bytes ?? (await retrieve(candidate.uid));
      const [image] = await decodeImages(
        [{ bytes, declaredDicom: candidate.declaredDicom ?? true }],
        model,
        deps.decoding,
        context,
        rendering,
      );
      if (image === undefined) throw new Error('the image decoder returned nothing');
      const source = readSources ? readSourceInstance(bytes) : undefined;
      // Embedded as soon as decoded (the batcher groups the slices in flight), so that only `parallel` model
      // inputs are held at once however many slices the request takes.
      const [embedding] = await model.embedImages([image.pixels], context);
      if (embedding === undefined) throw new Error('the image encoder returned no embedding');
      return { position, candidate, preprocessing: image.preprocessing, embedding, source };
    } catch (err) {
      // Which slice failed, by its place in the series (never its UID).
      throw withContext(`slice ${position}`, err);
    }
  });
  return {
    instances: candidates.length,
    embedding: meanEmbedding(decoded.map((d) => d.embedding)),
    slices: decoded.map(({ position, candidate, preprocessing, embedding, source }) => ({
      index: position,
      instanceNumber: candidate.instanceNumber ?? null,
      uid: candidate.uid,
      embedding,
      preprocessing,
      ...(source === undefined ? {} : { source }),
    })),
  };
}
