/**
 * The reader of the series routes: JSON `{"dicomweb": {"source", "study", "series"}, ...}`, multipart/form-data
 * with the instances as `image` file parts and the other fields as form fields, or a multipart/related body of
 * DICOM instances (a WADO-RS answer forwarded as it is) with the fields as query parameters. Every form's fields
 * are held to one schema: the route's JSON request schema less `dicomweb`.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, inField } from '../errors.ts';
import type { ImageOptions } from '../inputs/decode.ts';
import { parseSeriesReference } from '../dicomweb/reference.ts';
import { relatedImages } from './dicomweb-images.ts';
import { validationField } from './error-handler.ts';
import { IMAGE_OPTION_NAMES, imageOptions, type OptionSource } from './image-options.ts';
import { listField, readForm, singleField } from './multipart.ts';
import { requestFields } from './schemas.ts';
import type { SeriesInput, SliceCount } from './series-slices.ts';

export interface SeriesRequest<Fields> {
  series: SeriesInput;
  /** Undefined when the request does not say: DEFAULT_SLICES, or MAX_SERIES_SLICES when that is lower. */
  slices: SliceCount | undefined;
  includeUids: boolean;
  rendering: ImageOptions;
  fields: Fields;
}

const SERIES_FIELDS = ['slices', 'include_uids'];

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);

/** A form or query string as the type its field declares (numbers, booleans, `slices`' number or "all"). */
function typed(name: string, value: string, type: string | undefined): unknown {
  if (name === 'slices') return /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (name === 'include_uids') return value === 'true' ? true : value === 'false' ? false : value;
  if (type === 'integer' && /^\s*\d+\s*$/.test(value)) return Number(value);
  if (type === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return value;
}

/** A list field from a query: repeated (`?labels=a&labels=b`) or one JSON array. */
function queryList(value: unknown): unknown {
  const values: unknown[] = Array.isArray(value) ? (value as unknown[]) : [value];
  const [first] = values;
  if (values.length === 1 && typeof first === 'string' && first.trimStart().startsWith('[')) {
    try {
      return JSON.parse(first) as unknown;
    } catch {
      throw badRequest('a list given as one query parameter starting with "[" must be a JSON array');
    }
  }
  return values;
}

export function seriesRequestReader<Fields>(
  route: { path: string; schema: string },
  limits: { bodyBytes: number; maxSeriesInstances: number },
) {
  const { schema, types } = requestFields(route.schema, 'dicomweb');
  const usage = `${route.path} takes JSON {"dicomweb": {"source", "study", "series"}, ...}, multipart "image" parts (DICOM instances), or a multipart/related body of application/dicom parts`;

  async function fromForm(request: FastifyRequest): Promise<{ series: SeriesInput; values: Record<string, unknown> }> {
    const form = await readForm(request, {
      fileField: 'image',
      textFields: [...types.keys()],
      maxFiles: limits.maxSeriesInstances,
      maxBytes: limits.bodyBytes,
    });
    const values: Record<string, unknown> = {};
    for (const [name, type] of types) {
      const value = type === 'array' ? listField(form, name) : singleField(form, name);
      if (value !== undefined) values[name] = typeof value === 'string' ? typed(name, value, type) : value;
    }
    return { series: { instances: form.files.map((file) => ({ bytes: file.data, declaredDicom: true })) }, values };
  }

  function fromQuery(
    request: FastifyRequest,
    body: Buffer,
    query: Record<string, unknown>,
  ): { series: SeriesInput; values: Record<string, unknown> } {
    const type = request.headers['content-type'];
    if (type?.split(';')[0]?.trim().toLowerCase() !== 'multipart/related') throw badRequest(usage);
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(query)) {
      const declared = types.get(name);
      if (declared === 'array') values[name] = queryList(value);
      else values[name] = typeof value === 'string' ? typed(name, value, declared) : value;
    }
    return { series: { instances: relatedImages(body, type, limits.maxSeriesInstances) }, values };
  }

  return async function readSeriesRequest(request: FastifyRequest): Promise<SeriesRequest<Fields>> {
    const query = isRecord(request.query) ? request.query : {};
    let where: OptionSource = 'property';
    let read: { series: SeriesInput; values: Record<string, unknown> };
    if (Buffer.isBuffer(request.body)) {
      where = 'query parameter';
      read = fromQuery(request, request.body, query);
    } else {
      const unexpected = Object.keys(query)[0];
      if (unexpected !== undefined)
        throw inField(
          unexpected,
          badRequest(`query parameters are taken only with a multipart/related body; send ${unexpected.slice(0, 64)} in the body`),
        );
      if (request.isMultipart()) {
        where = 'form field';
        read = await fromForm(request);
      } else {
        const { dicomweb, ...values } = isRecord(request.body) ? request.body : {};
        if (dicomweb === undefined) throw inField('dicomweb', badRequest(usage));
        read = { series: { reference: parseSeriesReference(dicomweb, 'dicomweb') }, values };
      }
    }
    const { series, values } = read;
    const rendering = imageOptions(values, where);
    // A JSON body was validated against the route's schema by Fastify already; the other forms are checked here.
    const validate = where === 'property' ? undefined : request.compileValidationSchema(schema);
    if (validate !== undefined && !validate(values)) {
      const first = validate.errors?.[0];
      const refused = badRequest(
        first === undefined ? `invalid ${where}` : `${where} ${first.instancePath.slice(1)} ${first.message ?? 'is invalid'}`,
      );
      const field = validationField({ validation: validate.errors ?? [] });
      throw field === undefined ? refused : inField(field, refused);
    }
    const { slices, include_uids: includeUids = false } = values as { slices?: SliceCount; include_uids?: boolean };
    const skipped = new Set<string>([...IMAGE_OPTION_NAMES, ...SERIES_FIELDS]);
    const fields = Object.fromEntries(Object.entries(values).filter(([name]) => !skipped.has(name)));
    return { series, slices, includeUids, rendering, fields: fields as Fields };
  };
}
