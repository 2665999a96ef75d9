import type { RawImage } from './raw-window.ts';
import type { DecodeLimits, RenderedImage, RenderOptions, WindowRecord } from './types.ts';

/** Messages between the decoder pool and its workers. Errors cross as plain data: classes do not survive cloning. */
export type DecodeTask =
  | { id: number; kind: 'dicom'; bytes: Uint8Array; options: RenderOptions; limits: DecodeLimits }
  | { id: number; kind: 'raw'; raw: RawImage };

export type DecodeResult =
  | { id: number; ok: true; kind: 'dicom'; image: RenderedImage }
  | { id: number; ok: true; kind: 'raw'; data: Uint8Array; window: WindowRecord }
  | { id: number; ok: false; error: { statusCode?: number; code?: string; message: string } };
