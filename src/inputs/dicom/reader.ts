/**
 * The reader for DICOM: the pixel decoder renders the frame as a viewer would (its threads do the parsing,
 * codecs and pixel loops); this side turns the technical attributes it reports into the API's record.
 */
import type { DicomPreprocessing, SourcePreprocessing, WindowUsed } from '../../api-types.ts';
import type { Cancellation } from '../../engine/request-group.ts';
import type { PixelDecoder } from '../decoder/pixel-decoder.ts';
import type { InputLimits } from '../limits.ts';
import type { ImageOptions, ImageSource } from '../types.ts';
import type { DicomRecord, RenderOptions, WindowPreset, WindowRecord } from './types.ts';

/**
 * Attribute values come from the file: only printable ASCII, and not much of it, goes into a record that is
 * also sent as a response header.
 */
function printable(value: string, max = 64): string {
  return value.replace(/[^\x20-\x7e]/g, '').slice(0, max);
}

function windowUsed(window: WindowRecord, preset: WindowPreset | undefined): WindowUsed {
  const used: WindowUsed = { center: window.center, width: window.width, function: window.function, source: window.source };
  if (preset !== undefined && window.source === 'request') used.preset = preset;
  return used;
}

/** Samples per pixel as stored: palette and monochrome images have one. */
function samplesPerPixel(photometric: string): number {
  return photometric.startsWith('MONOCHROME') || photometric === 'PALETTE COLOR' ? 1 : 3;
}

function dicomSource(record: DicomRecord): SourcePreprocessing {
  return {
    format: 'dicom',
    width: record.columns,
    height: record.rows,
    channels: samplesPerPixel(record.photometricInterpretation),
    bit_depth: record.bitsStored,
    has_alpha: false,
    pages: record.numberOfFrames,
  };
}

function dicomRecord(record: DicomRecord): DicomPreprocessing {
  return {
    modality: record.modality === null ? null : printable(record.modality),
    transfer_syntax_uid: printable(record.transferSyntaxUid),
    photometric_interpretation: printable(record.photometricInterpretation),
    frame: record.frame,
    frames: record.numberOfFrames,
    bits_stored: record.bitsStored,
    inverted: record.inverted,
  };
}

/** The request's options that apply to DICOM (`page` does not). */
export function renderOptions(options: ImageOptions): RenderOptions {
  const { window, windowCenter, windowWidth, frame } = options;
  return {
    ...(window === undefined ? {} : { window }),
    ...(windowCenter === undefined ? {} : { windowCenter }),
    ...(windowWidth === undefined ? {} : { windowWidth }),
    ...(frame === undefined ? {} : { frame }),
  };
}

/** A DICOM object (Part 10, or a bare data set declared application/dicom). */
export async function readDicom(
  bytes: Buffer,
  options: ImageOptions,
  decoder: PixelDecoder,
  limits: InputLimits,
  cancellation?: Cancellation,
): Promise<ImageSource> {
  const rendered = await decoder.renderDicom(bytes, renderOptions(options), limits, cancellation);
  const { window } = options;
  const { record } = rendered;
  return {
    pixels: { kind: 'rgb', data: rendered.data, width: rendered.width, height: rendered.height },
    record: {
      source: dicomSource(record),
      dicom: dicomRecord(record),
      window: record.window === null ? null : windowUsed(record.window, window),
    },
  };
}
