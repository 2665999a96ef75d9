import { undecodable } from '../errors.ts';
import type { WindowRecord } from './dicom/types.ts';
import { distinctCounts, linearExact, percentileWindow, to8bit } from './dicom/window.ts';

export type RawDepth = 'ushort' | 'short' | 'uint' | 'int' | 'float' | 'double';

export interface RawImage {
  /** Samples as sharp's raw output gives them: interleaved, host byte order. */
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  depth: RawDepth;
}

function samplesOf(raw: RawImage): ArrayLike<number> {
  const { buffer, byteOffset, byteLength } = raw.data;
  // Copy into an aligned buffer: sharp's output can start at any byte offset.
  const aligned = new Uint8Array(byteLength);
  aligned.set(new Uint8Array(buffer, byteOffset, byteLength));
  switch (raw.depth) {
    case 'ushort':
      return new Uint16Array(aligned.buffer);
    case 'short':
      return new Int16Array(aligned.buffer);
    case 'uint':
      return new Uint32Array(aligned.buffer);
    case 'int':
      return new Int32Array(aligned.buffer);
    case 'float':
      return new Float32Array(aligned.buffer);
    case 'double':
      return new Float64Array(aligned.buffer);
  }
}

/**
 * Windows a high-bit-depth image to 8-bit RGB with the same automatic percentile rule as DICOM (0.5th..99.5th
 * percentile, LINEAR_EXACT). Colour channels share one window so hues survive; alpha is dropped; grey is
 * replicated to three channels.
 */
export function windowRaw(raw: RawImage): { data: Buffer; window: WindowRecord } {
  const samples = samplesOf(raw);
  const colourChannels = raw.channels >= 3 ? 3 : 1;
  const pixels = raw.width * raw.height;
  if (samples.length < pixels * raw.channels) throw undecodable('image decoded to fewer samples than its size needs');
  const isColourSample = (i: number) => i % raw.channels < colourChannels;
  for (let i = 0; i < samples.length; i++) {
    if (isColourSample(i) && !Number.isFinite(samples[i]!)) throw undecodable('image holds NaN or infinite samples');
  }
  let window: { center: number; width: number };
  if (raw.depth === 'ushort' || raw.depth === 'short') {
    const offset = raw.depth === 'short' ? 32768 : 0;
    const counts = new Float64Array(65536);
    for (let i = 0; i < samples.length; i++) if (isColourSample(i)) counts[samples[i]! + offset]! += 1;
    const values = Float64Array.from({ length: 65536 }, (_, k) => k - offset);
    window = percentileWindow(values, counts)!;
  } else {
    const { values, counts } = distinctCounts(samples, isColourSample);
    window = percentileWindow(values, counts)!;
  }
  const map = linearExact(window.center, window.width);
  const out = Buffer.allocUnsafe(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const base = p * raw.channels;
    for (let c = 0; c < 3; c++) out[3 * p + c] = to8bit(map(samples[base + (colourChannels === 3 ? c : 0)]!));
  }
  return { data: out, window: { ...window, function: 'LINEAR_EXACT', source: 'auto' } };
}
