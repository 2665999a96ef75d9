/**
 * Response records of the API, as openapi.yaml describes them (schema `Preprocessing`). The input decoders
 * fill them in; their shape belongs to the API, so it is written here, where a change to it is a change to
 * the contract.
 */

/** The window that turned wide samples (DICOM greyscale, 16-bit PNG/TIFF) into 8 bits, and where it came from. */
export interface WindowUsed {
  /** Center and width in modality units (Hounsfield units for CT); null for a VOI LUT, which has none. */
  center: number | null;
  width: number | null;
  function: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' | 'LUT';
  /** request (window_center/width or a preset), voi_lut (the file's VOI LUT), file (its Window Center/Width), auto (percentiles). */
  source: 'request' | 'voi_lut' | 'file' | 'auto';
  /** The preset the request named, when it named one. */
  preset?: string;
}

/** Technical DICOM attributes of the object decoded; nothing that identifies a patient, study or institution. */
export interface DicomPreprocessing {
  modality: string | null;
  transfer_syntax_uid: string;
  photometric_interpretation: string;
  /** The frame rendered (0-based) and how many the object has. */
  frame: number;
  frames: number;
  bits_stored: number;
  /** MONOCHROME1 (or an INVERSE presentation LUT shape) was inverted so that high values are bright. */
  inverted: boolean;
}

/** The file as it came, before anything was done to it. */
export interface SourcePreprocessing {
  format: 'png' | 'jpeg' | 'tiff' | 'webp' | 'dicom';
  width: number;
  height: number;
  /** Bands in the file, alpha included (samples per pixel for DICOM). */
  channels: number;
  bit_depth: number;
  has_alpha: boolean;
  /** Pages in a multi-page file (frames for DICOM). */
  pages: number;
  /** The page used, when it is not page 0. */
  page?: number;
}

/** The model's geometric transform, as torchvision's Resize(S) + CenterCrop(S) computes it. */
export interface TransformPreprocessing {
  /** Bicubic resize target, or null when the shorter side already equals the model size. */
  resize: { width: number; height: number } | null;
  crop: { left: number; top: number; width: number; height: number };
  /** The model's input size S (the tensor is 3 x S x S). */
  size: number;
}

/** What happened to one image on its way to the model: returned to callers so results can be audited. */
export interface ImagePreprocessing {
  source: SourcePreprocessing;
  /** DICOM input only. */
  dicom?: DicomPreprocessing;
  /** Present for DICOM and for samples wider than 8 bits; null for colour DICOM, which is shown as stored. */
  window?: WindowUsed | null;
  transform: TransformPreprocessing;
}
