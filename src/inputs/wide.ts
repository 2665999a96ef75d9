/**
 * The reader for PNG/TIFF with samples wider than 8 bits: sharp reads the page at full depth and the pixel
 * decoder windows it to 8-bit RGB with the automatic percentile rule DICOM uses, instead of sharp dropping the
 * low bits (which leaves a 12-bit X-ray stored in 16 bits nearly black).
 */
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import type { Cancellation } from '../engine/request-group.ts';
import type { PixelDecoder } from './decoder/pixel-decoder.ts';
import type { RawDepth } from './raw-window.ts';
import { sharpFailure } from './header.ts';
import type { ImageHeader } from './header.ts';
import { bounded, type InputLimits } from './limits.ts';
import { onPrivateCopy } from './sharp-input.ts';
import type { ImageSource } from './types.ts';

const BITS: Record<RawDepth, number> = { ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64 };

export async function readWide(
  bytes: Buffer,
  header: ImageHeader & { wide: RawDepth },
  decoder: PixelDecoder,
  limits: InputLimits,
  cancellation?: Cancellation,
): Promise<ImageSource> {
  const { format, page, meta, wide: depth } = header;
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await onPrivateCopy(bytes, (copy) => {
      let pipeline = bounded(sharp(copy, { limitInputPixels: limits.imagePixels, failOn: 'error', page }), limits);
      // Pin the colourspace: left alone, sharp converts to 8-bit sRGB (16-bit) or applies an sRGB transform (float).
      const colour = meta.channels >= 3;
      if (depth === 'ushort') pipeline = pipeline.toColourspace(colour ? 'rgb16' : 'grey16');
      else if (!colour) pipeline = pipeline.toColourspace('b-w');
      return pipeline.raw({ depth }).toBuffer({ resolveWithObject: true });
    });
  } catch (err) {
    sharpFailure(err, format);
  }
  const { width, height, channels } = raw.info;
  const { data, window } = await decoder.windowSamples({ data: raw.data, width, height, channels, depth }, cancellation);
  return {
    pixels: { kind: 'rgb', data, width, height },
    record: {
      // Bands and alpha as in the file, not the windowed RGB.
      source: { ...header.source, width, height, bit_depth: BITS[depth] },
      window: { center: window.center, width: window.width, function: window.function, source: window.source },
    },
  };
}
