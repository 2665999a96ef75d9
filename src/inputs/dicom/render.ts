/** One DICOM frame to 8-bit RGB (greyscale here, colour in colour.ts); runs on a pixel decoder thread. */
import type { InputLimits } from '../limits.ts';
import { decodeFrame } from './codecs.ts';
import { colour, palette } from './colour.ts';
import { describe, type ImageDescription } from './parse.ts';
import { hostOrder, storedValues } from './samples.ts';
import type { RenderedImage, RenderOptions, WindowRecord } from './types.ts';
import { chooseVoi, invertsGreyscale, modalityTransform } from './voi.ts';
import { distinctCounts, percentileWindow, to8bit } from './window.ts';

function greyscale(
  d: ImageDescription,
  bytes: Uint8Array,
  options: RenderOptions,
): { rgb: Buffer; window: WindowRecord; inverted: boolean } {
  const stored = storedValues(bytes, d.bitsAllocated, d.bitsStored, d.highBit, d.signed);
  const modality = modalityTransform(d);
  const padding = d.padding;
  const isPadding = padding ? (s: number) => s >= padding.low && s <= padding.high : () => false;
  const inverted = invertsGreyscale(d);
  const rgb = Buffer.allocUnsafe(stored.length * 3);
  let window: WindowRecord;

  if (d.bitsStored <= 16) {
    // Dense path: every possible stored value gets its modality value and its 8-bit grey once; pixels just index.
    const size = 2 ** d.bitsStored;
    const offset = d.signed ? size / 2 : 0;
    const counts = new Float64Array(size);
    for (let i = 0; i < stored.length; i++) counts[stored[i]! + offset]! += 1;
    const values = new Float64Array(size);
    for (let k = 0; k < size; k++) values[k] = modality(k - offset);
    const auto = () => {
      const kept = Float64Array.from(counts, (c, k) => (isPadding(k - offset) ? 0 : c));
      // All-padding images fall back to every pixel rather than to no window at all.
      return percentileWindow(values, kept) ?? percentileWindow(values, counts)!;
    };
    const voi = chooseVoi(d, options, auto);
    window = voi.record;
    const grey = new Uint8Array(size);
    for (let k = 0; k < size; k++) {
      if (counts[k] === 0) continue;
      const v = voi.map(values[k]!);
      grey[k] = to8bit(inverted ? 1 - v : v);
    }
    for (let i = 0, o = 0; i < stored.length; i++, o += 3) {
      const g = grey[stored[i]! + offset]!;
      rgb[o] = g;
      rgb[o + 1] = g;
      rgb[o + 2] = g;
    }
  } else {
    const values = Float64Array.from(stored, modality);
    const auto = () => {
      const kept = distinctCounts(values, (i) => !isPadding(stored[i]!));
      const all = distinctCounts(values);
      return percentileWindow(kept.values, kept.counts) ?? percentileWindow(all.values, all.counts)!;
    };
    const voi = chooseVoi(d, options, auto);
    window = voi.record;
    for (let i = 0, o = 0; i < values.length; i++, o += 3) {
      const v = voi.map(values[i]!);
      const g = to8bit(inverted ? 1 - v : v);
      rgb[o] = g;
      rgb[o + 1] = g;
      rgb[o + 2] = g;
    }
  }
  return { rgb, window, inverted };
}

/**
 * The whole pipeline for one frame, synchronously: parse and check, decode, then stored values -> modality LUT
 * -> VOI -> presentation (greyscale), or colour conversion. Codecs must have been loaded (loadCodecs).
 */
export function renderDicomSync(bytes: Uint8Array, options: RenderOptions, limits: InputLimits): RenderedImage {
  const d = describe(bytes, options.frame, limits);
  let samples: Uint8Array;
  let photometric = d.photometric;
  let planar = d.planarConfiguration;
  if (d.encoding.kind === 'native') {
    samples = hostOrder(d);
  } else {
    const decoded = decodeFrame(d);
    samples = decoded.bytes;
    // Codecs that convert colour (JPEG to RGB, J2K's inverse ICT/RCT) leave RGB; the rest leave the file's space.
    photometric = decoded.photometric === 'YBR_ICT' || decoded.photometric === 'YBR_RCT' ? 'RGB' : decoded.photometric;
    planar = d.encoding.codec === 'rle' || d.encoding.codec === 'jpeg' ? 0 : decoded.planarConfiguration;
  }
  let data: Buffer;
  let window: WindowRecord | null = null;
  let inverted = false;
  if (photometric.startsWith('MONOCHROME')) {
    ({ rgb: data, window, inverted } = greyscale(d, samples, options));
  } else if (photometric === 'PALETTE COLOR') {
    data = palette(d, samples);
  } else {
    data = colour(d, samples, photometric, planar);
  }
  return {
    width: d.columns,
    height: d.rows,
    channels: 3,
    data,
    record: {
      modality: d.modality,
      transferSyntaxUid: d.transferSyntaxUid,
      photometricInterpretation: d.photometric,
      rows: d.rows,
      columns: d.columns,
      bitsStored: d.bitsStored,
      numberOfFrames: d.numberOfFrames,
      frame: d.frame,
      window,
      inverted,
    },
  };
}
