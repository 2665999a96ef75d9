/**
 * The reader of the series routes: JSON `{"dicomweb": {"source", "study", "series"}, ...}`, multipart/form-data
 * with the instances as `image` file parts and the other fields as form fields, or a multipart/related body of
 * DICOM instances (a WADO-RS answer forwarded as it is) with the fields as query parameters. request-reader.ts
 * reads every form's fields and holds them to one schema: the route's JSON request schema less `dicomweb`.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, inField } from '../../errors.ts';
import type { ImageOptions } from '../../inputs/decode.ts';
import { parseSeriesReference } from '../../dicomweb/reference.ts';
import { relatedImages } from './dicomweb-images.ts';
import { IMAGE_OPTION_NAMES, imageOptions } from './image-options.ts';
import type { ImageLimit } from './image-limit.ts';
import { queryStrings, requestReader, type RequestBody } from './request-reader.ts';
import type { SeriesInput, SliceCount } from '../../service/series.ts';

export interface SeriesRequest<Fields> {
  series: SeriesInput;
  /** Undefined when the request does not say: DEFAULT_SLICES, or MAX_SERIES_SLICES when that is lower. */
  slices: SliceCount | undefined;
  includeUids: boolean;
  rendering: ImageOptions;
  fields: Fields;
}

const SERIES_FIELDS = ['slices', 'include_uids'];

export function seriesRequestReader<Fields>(
  route: { path: string; schema: string },
  limits: { bodyBytes: number; maxSeriesInstances: number },
) {
  const limit: ImageLimit = { max: limits.maxSeriesInstances, rule: `MAX_SERIES_INSTANCES allows ${limits.maxSeriesInstances}` };
  const reader = requestReader({ schema: route.schema, payload: 'dicomweb', files: limit, maxBytes: limits.bodyBytes });
  const usage = `${route.path} takes JSON {"dicomweb": {"source", "study", "series"}, ...}, multipart "image" parts (DICOM instances), or a multipart/related body of application/dicom parts`;

  function seriesOf(body: RequestBody): SeriesInput {
    if (body.raw !== undefined) {
      const { type } = body.raw;
      if (type?.split(';')[0]?.trim().toLowerCase() !== 'multipart/related') throw badRequest(usage);
      return { instances: relatedImages(body.raw.body, type, limit) };
    }
    if (body.where === 'form field') return { instances: body.files.map((file) => ({ bytes: file.data, declaredDicom: true })) };
    if (body.payload === undefined) throw inField('dicomweb', badRequest(usage));
    return { reference: parseSeriesReference(body.payload, 'dicomweb') };
  }

  return async function readSeriesRequest(request: FastifyRequest): Promise<SeriesRequest<Fields>> {
    if (!Buffer.isBuffer(request.body)) {
      const unexpected = queryStrings(request)[0]?.[0];
      if (unexpected !== undefined)
        throw inField(
          unexpected,
          badRequest(`query parameters are taken only with a multipart/related body; send ${unexpected.slice(0, 64)} in the body`),
        );
    }
    const body = await reader.read(request);
    const series = seriesOf(body);
    const { values, where } = body;
    const rendering = imageOptions(values, where);
    reader.validate(request, body);
    const { slices, include_uids: includeUids = false } = values as { slices?: SliceCount; include_uids?: boolean };
    const skipped = new Set<string>([...IMAGE_OPTION_NAMES, ...SERIES_FIELDS]);
    const fields = Object.fromEntries(Object.entries(values).filter(([name]) => !skipped.has(name)));
    return { series, slices, includeUids, rendering, fields: fields as Fields };
  };
}
