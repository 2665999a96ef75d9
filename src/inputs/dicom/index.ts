/**
 * DICOM input: the one interface the HTTP layer uses. Everything heavy (parsing, codecs, pixel pipeline) runs
 * on the decoder pool's threads; callers just await renderDicom.
 */
import { hasPart10Preamble } from './parse.ts';
import { decoderPool, unwrap } from './pool.ts';
import type { DecodeLimits, RenderedImage, RenderOptions } from './types.ts';

export type { DecodeLimits, DicomRecord, RenderedImage, RenderOptions, VoiFunction, WindowPreset, WindowRecord, WindowSource } from './types.ts';
export { WINDOW_PRESET_NAMES, WINDOW_PRESETS } from './types.ts';
export { SUPPORTED_TRANSFER_SYNTAXES } from './transfer-syntax.ts';
export { closeDecoderPool, configureDecoderPool } from './pool.ts';

export const DICOM_MEDIA_TYPE = 'application/dicom';

/** True for a DICOM Part 10 file ('DICM' at byte 128). Bare data sets are recognised by content type instead. */
export function isDicom(bytes: Uint8Array): boolean {
  return hasPart10Preamble(bytes);
}

/**
 * Decodes one frame of a DICOM object and renders it as a viewer would, to 8-bit RGB. Rejects with
 * ServiceError: 400 (multi-frame without frame, frame out of range, bad window), 413 (rows x columns, or rows x
 * columns x frames, over limits.imagePixels, before decoding), 415 (unsupported transfer syntax), 422 (no pixel
 * data, malformed, a header number missing or out of range, truncated, 1-bit or float pixels, corrupt codestream). The input bytes are copied, never retained.
 */
export async function renderDicom(bytes: Uint8Array, options: RenderOptions, limits: DecodeLimits): Promise<RenderedImage> {
  const copy = new Uint8Array(bytes);
  const result = await decoderPool().run({ kind: 'dicom', bytes: copy, options: { ...options }, limits: { ...limits } }, [copy.buffer]);
  const { image } = unwrap<Extract<typeof result, { kind: 'dicom' }>>(result, 'dicom');
  const data = image.data as Uint8Array;
  return { ...image, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
}
