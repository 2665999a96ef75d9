import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';
import { WINDOW_PRESET_NAMES } from '../inputs/dicom/index.ts';
import type { WindowPreset } from '../inputs/dicom/index.ts';
import type { ImageOptions } from '../inputs/decode.ts';
import { singleField } from './multipart.ts';
import type { Form } from './multipart.ts';

/**
 * The rendering parameters every image route takes: query parameters with a raw body, form fields in
 * multipart, properties in JSON. Names as the API spells them.
 */
export const IMAGE_OPTION_NAMES = ['window', 'window_center', 'window_width', 'frame', 'page'] as const;
export type ImageOptionName = (typeof IMAGE_OPTION_NAMES)[number];

/** Where the values came from, for messages: "frame (form field) must be ...". */
export type OptionSource = 'query parameter' | 'form field' | 'property';

/** Querystring schema for routes that take a raw body: every value is a string, parsed by imageOptions. */
export const IMAGE_QUERY_PROPERTIES = Object.fromEntries(IMAGE_OPTION_NAMES.map((name) => [name, { type: 'string' }])) as Record<ImageOptionName, { type: 'string' }>;

const DECIMAL = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;
const INTEGER = /^\s*\d+\s*$/;
/** Frames and pages beyond this are certainly not in any object the pixel limit lets through. */
const MAX_INDEX = 1_000_000;

function number(value: unknown, name: string, where: OptionSource): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw badRequest(`${name} (${where}) must be a number`);
  return n;
}

function index(value: unknown, name: string, where: OptionSource): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && INTEGER.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_INDEX) throw badRequest(`${name} (${where}) must be an integer from 0 to ${MAX_INDEX} (0-based)`);
  return n;
}

/**
 * Validates the parameters, whichever form they came in (strings from a query or form, typed values from
 * JSON), with messages that say what to send. Rules: `window` is a preset name; `window_center` and
 * `window_width` come together, width at least 1; a preset and an explicit window are not combined.
 */
export function imageOptions(values: Partial<Record<ImageOptionName, unknown>>, where: OptionSource): ImageOptions {
  const options: ImageOptions = {};
  const { window, window_center: center, window_width: width, frame, page } = values;
  if (window !== undefined) {
    if (typeof window !== 'string' || !(WINDOW_PRESET_NAMES as readonly string[]).includes(window)) {
      throw badRequest(`window (${where}) must be one of ${WINDOW_PRESET_NAMES.join(', ')}; for another window give window_center and window_width`);
    }
    options.window = window as WindowPreset;
  }
  if ((center === undefined) !== (width === undefined)) throw badRequest('window_center and window_width must be given together');
  if (center !== undefined && width !== undefined) {
    if (window !== undefined) throw badRequest('give either window (a preset) or window_center and window_width, not both');
    options.windowCenter = number(center, 'window_center', where);
    options.windowWidth = number(width, 'window_width', where);
    if (options.windowWidth < 1) throw badRequest(`window_width (${where}) must be at least 1`);
  }
  if (frame !== undefined) options.frame = index(frame, 'frame', where);
  if (page !== undefined) options.page = index(page, 'page', where);
  return options;
}

/** The rendering parameters of a raw-body request, from its query string. */
export function imageOptionsFromQuery(request: FastifyRequest): ImageOptions {
  return imageOptions(request.query as Partial<Record<ImageOptionName, string>>, 'query parameter');
}

/** The rendering parameters of a multipart request, from its form fields (each at most once). */
export function imageOptionsFromForm(form: Form): ImageOptions {
  const values: Partial<Record<ImageOptionName, string>> = {};
  for (const name of IMAGE_OPTION_NAMES) {
    const value = singleField(form, name);
    if (value !== undefined) values[name] = value;
  }
  return imageOptions(values, 'form field');
}

/**
 * Multipart and JSON requests carry the parameters in the body; one also given in the query would be silently
 * ignored, so it is refused instead.
 */
export function refuseQueryImageOptions(request: FastifyRequest, form: 'multipart' | 'JSON'): void {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const misplaced = IMAGE_OPTION_NAMES.find((name) => query[name] !== undefined);
  if (misplaced !== undefined) {
    throw badRequest(`${misplaced} is a query parameter only with a raw image body; in a ${form} request send it ${form === 'JSON' ? 'as a property' : 'as a form field'}`);
  }
}

/** Picks the image option fields out of a JSON body, leaving the rest. */
export function splitImageOptions<T extends Record<string, unknown>>(body: T): { options: Partial<Record<ImageOptionName, unknown>>; rest: Omit<T, ImageOptionName> } {
  const options: Partial<Record<ImageOptionName, unknown>> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if ((IMAGE_OPTION_NAMES as readonly string[]).includes(key)) options[key as ImageOptionName] = value;
    else rest[key] = value;
  }
  return { options, rest: rest as Omit<T, ImageOptionName> };
}
