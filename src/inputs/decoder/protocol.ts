import type { RawImage } from '../dicom/raw-window.ts';
import type { RenderedImage, RenderOptions, WindowRecord } from '../dicom/types.ts';
import type { InputLimits } from '../limits.ts';

/** Work for a pixel decoder thread: render one DICOM frame, or window samples sharp read at full depth. */
export type DecodeTask =
  | { kind: 'dicom'; bytes: Uint8Array; options: RenderOptions; limits: InputLimits }
  | { kind: 'raw'; raw: RawImage };

export type DecodeResult =
  | { kind: 'dicom'; image: RenderedImage }
  | { kind: 'raw'; data: Uint8Array; window: WindowRecord };

/**
 * A ServiceError thrown in a decoder thread, as it crosses to the main thread (classes do not survive cloning):
 * the `detail` of the task's failure.
 */
export interface ServiceErrorDetail {
  statusCode: number;
  code: string;
}

export function isServiceErrorDetail(detail: unknown): detail is ServiceErrorDetail {
  const d = detail as Partial<ServiceErrorDetail> | null | undefined;
  return typeof d?.statusCode === 'number' && typeof d.code === 'string';
}
