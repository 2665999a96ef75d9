/** The window presets a request may name, as [width, center] in Hounsfield units. */
export const WINDOW_PRESETS = {
  'ct-soft-tissue': { width: 400, center: 40 },
  'ct-lung': { width: 1500, center: -600 },
  'ct-bone': { width: 2500, center: 480 },
  'ct-brain': { width: 80, center: 40 },
  'ct-liver': { width: 150, center: 90 },
} as const;
export type WindowPreset = keyof typeof WINDOW_PRESETS;
export const WINDOW_PRESET_NAMES = Object.keys(WINDOW_PRESETS) as WindowPreset[];

export interface RenderOptions {
  /** Explicit window; both or neither (the caller validates that pairing). Wins over `window`. */
  windowCenter?: number;
  windowWidth?: number;
  window?: WindowPreset;
  /** 0-based frame of a multi-frame object; required when the object has more than one frame. */
  frame?: number;
}

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID' | 'LUT';
export type WindowSource = 'request' | 'voi_lut' | 'file' | 'auto';

export interface WindowRecord {
  /** Center and width in modality units (after the modality LUT); null for a VOI LUT, which has none. */
  center: number | null;
  width: number | null;
  function: VoiFunction;
  source: WindowSource;
}

/**
 * What the caller may echo about a decoded DICOM object. Only technical attributes: nothing that identifies a
 * patient, study or institution is read into it.
 */
export interface DicomRecord {
  modality: string | null;
  transferSyntaxUid: string;
  photometricInterpretation: string;
  rows: number;
  columns: number;
  bitsStored: number;
  numberOfFrames: number;
  frame: number;
  /** null for colour images, which are shown as stored (VOI applies to greyscale only). */
  window: WindowRecord | null;
  inverted: boolean;
}

export interface RenderedImage {
  width: number;
  height: number;
  channels: 3;
  /** 8-bit RGB, interleaved, row-major. */
  data: Buffer;
  record: DicomRecord;
}
