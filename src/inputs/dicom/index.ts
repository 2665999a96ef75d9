/**
 * DICOM as the rest of the service sees it: the media type, the window presets a request may name, and the
 * types of a rendering. Parsing, codecs and pixel loops run on the pixel decoder's threads (decoder/); the
 * reader (reader.ts) turns their result into the API's record.
 */
export type { DicomRecord, RenderedImage, RenderOptions, VoiFunction, WindowPreset, WindowRecord, WindowSource } from './types.ts';
export { WINDOW_PRESET_NAMES, WINDOW_PRESETS } from './types.ts';

export const DICOM_MEDIA_TYPE = 'application/dicom';
