import type { OutputInfo, Sharp } from 'sharp';
import type { ImagePreprocessing } from '../api-types.ts';
import type { ImagePixels } from '../engine/feeds.ts';
import type { WindowPreset } from './dicom/types.ts';

/** The request's rendering parameters; they apply to every image of the request, each where it means something. */
export interface ImageOptions {
  /** A named window (DICOM greyscale). */
  window?: WindowPreset;
  /** An explicit window in modality units (DICOM greyscale); both or neither. */
  windowCenter?: number;
  windowWidth?: number;
  /** 0-based frame of a multi-frame DICOM object; required when it has more than one. */
  frame?: number;
  /** 0-based page of a multi-page TIFF (default 0). */
  page?: number;
}

/** Decoded 8-bit RGB, interleaved, row-major. */
export interface RgbPixels {
  kind: 'rgb';
  data: Buffer;
  width: number;
  height: number;
}

/**
 * A file sharp decodes straight into the model transform, so that no full-size RGB buffer is made: `run` opens
 * the decoder, lets the transform add its resize and crop, and returns 8-bit RGB.
 */
export interface EncodedPixels {
  kind: 'encoded';
  width: number;
  height: number;
  run(transform: (pipeline: Sharp) => Sharp): Promise<{ data: Buffer; info: OutputInfo }>;
}

/** What a reader hands the model transform: the pixels, and the record of what the file was and how it was read. */
export interface ImageSource {
  pixels: RgbPixels | EncodedPixels;
  record: Omit<ImagePreprocessing, 'transform'>;
}

/** The model's input for one image: the tensor, the S x S RGB it was made from, and how it was made. */
export interface ModelInput {
  /**
   * CHW float32, 3 x S x S, scaled to [0, 1] then normalized with the model's mean and std: written into the
   * batch from `view` when the batch is stacked (tensorOf writes it out).
   */
  pixels: ImagePixels;
  /** The S x S RGB image before normalization (interleaved): what /preview shows. */
  view: Buffer;
  preprocessing: ImagePreprocessing;
}
