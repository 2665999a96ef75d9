import type { RawImage } from '../raw-window.ts';
import type { RenderedImage, RenderOptions, WindowRecord } from '../dicom/types.ts';
import type { InputLimits } from '../limits.ts';
import { isErrorCode, type ErrorCode } from '../../error-catalogue.ts';
import type { JsonBody, JsonImages } from '../json-body.ts';

/**
 * Work for a pixel decoder thread: cost or render one DICOM frame, window samples sharp read at full depth, or
 * read a large JSON body (src/inputs/json-body.ts).
 */
export type DecodeTask =
  | { kind: 'json'; bytes: Uint8Array; images?: JsonImages }
  | { kind: 'dicom-cost'; bytes: Uint8Array; options: RenderOptions; limits: InputLimits }
  | { kind: 'dicom'; bytes: Uint8Array; options: RenderOptions; limits: InputLimits }
  | { kind: 'raw'; raw: RawImage };

export type DecodeResult =
  | { kind: 'json'; body: JsonBody }
  | { kind: 'dicom-cost'; bytes: number; width: number; height: number }
  | { kind: 'dicom'; image: RenderedImage }
  | { kind: 'raw'; data: Uint8Array; window: WindowRecord };

/**
 * A ServiceError thrown in a decoder thread, as it crosses to the main thread (classes do not survive cloning):
 * the `detail` of the task's failure.
 */
export interface ServiceErrorDetail {
  code: ErrorCode;
  field?: string;
  /** A library's own text behind the error (its cause: a codec's message), for the service log at debug; never answered. */
  diagnostic?: string;
}

export function isServiceErrorDetail(detail: unknown): detail is ServiceErrorDetail {
  const d = detail as Partial<ServiceErrorDetail> | null | undefined;
  return isErrorCode(d?.code);
}
