/**
 * The worst-case bytes decoding a PNG/JPEG/TIFF/WebP holds at once, from its header alone, buffer by buffer as
 * eight-bit.ts, wide.ts and the pixel decoder (raw-window.ts) make them. It errs high: libvips may stream what
 * it is counted here as holding whole.
 */
import { decodesInOnePass } from './eight-bit.ts';
import type { ImageHeader } from './header.ts';

const BYTES_PER_SAMPLE: Readonly<Record<string, number>> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, double: 8 };
/** A 16-bit histogram: counts and values, Float64 each (raw-window.ts). */
const HISTOGRAM_BYTES = 2 * 65536 * 8;
/** Sorting samples too wide for a histogram (window.ts distinctCounts): kept values (sorted in place), distinct values, counts, order. */
const SORT_BYTES_PER_SAMPLE = 8 + 8 + 8 + 4;

/** The page's samples as the file holds them, decoded: what the decompression limit weighs against the file's size. */
export function decodedSampleBytes(header: ImageHeader): number {
  const { width, height } = header.pageSize;
  return width * height * header.meta.channels * (BYTES_PER_SAMPLE[header.meta.depth] ?? 8);
}

/** Bytes the reader holds for this image, up to and including the full-size 8-bit RGB the transform takes. */
export function readerBytes(header: ImageHeader): number {
  const { width, height } = header.pageSize;
  const pixels = width * height;
  const channels = header.meta.channels;
  const decoded = decodedSampleBytes(header);
  if (header.wide !== undefined) {
    // libvips' decoded image, sharp's raw output, the copy sent to a decoder thread and its aligned copy there;
    // then the histogram (or sort) of the colour samples and the windowed 8-bit RGB.
    const colourSamples = pixels * (channels >= 3 ? 3 : 1);
    const windowing = header.wide === 'ushort' || header.wide === 'short' ? HISTOGRAM_BYTES : colourSamples * SORT_BYTES_PER_SAMPLE;
    return 4 * decoded + windowing + pixels * 3;
  }
  // One pass: libvips' decoded image and its sRGB conversion; two passes: that, then the RGB buffer handed over.
  return decodesInOnePass(header) ? decoded + pixels * 3 : decoded + 2 * pixels * 3;
}
