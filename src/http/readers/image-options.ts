import { badRequest, inField } from '../../errors.ts';
import { WINDOW_PRESET_NAMES } from '../../inputs/dicom/index.ts';
import type { WindowPreset } from '../../inputs/dicom/index.ts';
import type { ImageOptions } from '../../inputs/decode.ts';

/**
 * The rendering parameters every image route takes: query parameters with a raw body, form fields in
 * multipart, properties in JSON. Names as the API spells them.
 */
export const IMAGE_OPTION_NAMES = ['window', 'window_center', 'window_width', 'frame', 'page'] as const;
export type ImageOptionName = (typeof IMAGE_OPTION_NAMES)[number];

/** Where the values came from, for messages: "frame (form field) must be ...". */
export type OptionSource = 'query parameter' | 'form field' | 'property';

/** Frames and pages beyond this are certainly not in any object the pixel limit lets through. */
const MAX_INDEX = 1_000_000;

function number(value: unknown, name: string, where: OptionSource): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw inField(name, badRequest(`${name} (${where}) must be a number`));
  return value;
}

function index(value: unknown, name: string, where: OptionSource): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_INDEX) {
    throw inField(name, badRequest(`${name} (${where}) must be an integer from 0 to ${MAX_INDEX} (0-based)`));
  }
  return value;
}

/**
 * The parameters as the decoders take them, whichever form they came in (a string from a query or form that
 * did not read as a number is still a string here), with messages that say what to send. Rules: `window` is
 * a preset name; `window_center` and `window_width` come together, width at least 1; a preset and an explicit
 * window are not combined. They run before the request's schema, whose messages could not say as much.
 */
export function imageOptions(values: Partial<Record<ImageOptionName, unknown>>, where: OptionSource): ImageOptions {
  const options: ImageOptions = {};
  const { window, window_center: center, window_width: width, frame, page } = values;
  if (window !== undefined) {
    if (typeof window !== 'string' || !(WINDOW_PRESET_NAMES as readonly string[]).includes(window)) {
      const message = `window (${where}) must be one of ${WINDOW_PRESET_NAMES.join(', ')}; for another window give window_center and window_width`;
      throw inField('window', badRequest(message));
    }
    options.window = window as WindowPreset;
  }
  if ((center === undefined) !== (width === undefined)) {
    throw inField(
      center === undefined ? 'window_center' : 'window_width',
      badRequest('window_center and window_width must be given together'),
    );
  }
  if (center !== undefined && width !== undefined) {
    if (window !== undefined)
      throw inField('window', badRequest('give either window (a preset) or window_center and window_width, not both'));
    options.windowCenter = number(center, 'window_center', where);
    options.windowWidth = number(width, 'window_width', where);
    if (options.windowWidth < 1) throw inField('window_width', badRequest(`window_width (${where}) must be at least 1`));
  }
  if (frame !== undefined) options.frame = index(frame, 'frame', where);
  if (page !== undefined) options.page = index(page, 'page', where);
  return options;
}
