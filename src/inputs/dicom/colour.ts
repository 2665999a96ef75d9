/** Colour pixels to 8-bit RGB: palette lookup, YBR to RGB, planar and 4:2:2 layouts. Shown as stored (no VOI). */
import { lookup, type Lut } from './lut-attributes.ts';
import type { ImageDescription } from './parse.ts';
import { alike, storedValues, type StoredSamples } from './samples.ts';
import { to8bit } from './window.ts';

export function palette(d: ImageDescription, bytes: Uint8Array): Buffer {
  const stored = storedValues(bytes, d.bitsAllocated, d.bitsStored, d.highBit, d.signed);
  const { red, green, blue } = d.palette!;
  const rgb = Buffer.allocUnsafe(stored.length * 3);
  const scale = (lut: Lut, s: number) => to8bit(lookup(lut, s) / (2 ** lut.bits - 1));
  for (let i = 0, o = 0; i < stored.length; i++, o += 3) {
    const s = stored[i]!;
    rgb[o] = scale(red, s);
    rgb[o + 1] = scale(green, s);
    rgb[o + 2] = scale(blue, s);
  }
  return rgb;
}

/** Native YBR_FULL_422 stores Y1 Y2 Cb Cr per horizontal pixel pair; expand to one Y Cb Cr triple per pixel. */
function expand422(samples: StoredSamples, pixels: number): StoredSamples {
  const out = alike(samples, pixels * 3);
  for (let p = 0, i = 0; p < pixels; p += 2, i += 4) {
    const cb = samples[i + 2] ?? 0;
    const cr = samples[i + 3] ?? 0;
    out[3 * p] = samples[i] ?? 0;
    out[3 * p + 1] = cb;
    out[3 * p + 2] = cr;
    if (p + 1 < pixels) {
      out[3 * p + 3] = samples[i + 1] ?? 0;
      out[3 * p + 4] = cb;
      out[3 * p + 5] = cr;
    }
  }
  return out;
}

export function colour(d: ImageDescription, bytes: Uint8Array, photometric: string, planar: number): Buffer {
  const pixels = d.rows * d.columns;
  const stored = storedValues(bytes, d.bitsAllocated, d.bitsStored, d.highBit, false);
  let samples: ArrayLike<number> = stored;
  if (d.encoding.kind === 'native' && (photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_422')) {
    samples = expand422(stored, pixels);
  } else if (planar === 1) {
    const interleaved = alike(stored, pixels * 3);
    for (let p = 0; p < pixels; p++) {
      interleaved[3 * p] = stored[p]!;
      interleaved[3 * p + 1] = stored[pixels + p]!;
      interleaved[3 * p + 2] = stored[2 * pixels + p]!;
    }
    samples = interleaved;
  }
  const top = 2 ** d.bitsStored - 1;
  const mid = (top + 1) / 2;
  const rgb = Buffer.allocUnsafe(pixels * 3);
  const full = photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422';
  const partial = photometric === 'YBR_PARTIAL_422' || photometric === 'YBR_PARTIAL_420';
  for (let p = 0; p < pixels; p++) {
    let r = samples[3 * p]!;
    let g = samples[3 * p + 1]!;
    let b = samples[3 * p + 2]!;
    if (full) {
      // ITU-R BT.601 full range, PS3.3 C.7.6.3.1.2.
      const [y, cb, cr] = [r, g - mid, b - mid];
      r = y + 1.402 * cr;
      g = y - 0.344136 * cb - 0.714136 * cr;
      b = y + 1.772 * cb;
    } else if (partial) {
      const y = (r - (16 * (top + 1)) / 256) * 1.164383;
      const [cb, cr] = [g - mid, b - mid];
      r = y + 1.596027 * cr;
      g = y - 0.391762 * cb - 0.812968 * cr;
      b = y + 2.017232 * cb;
    }
    rgb[3 * p] = to8bit(r / top);
    rgb[3 * p + 1] = to8bit(g / top);
    rgb[3 * p + 2] = to8bit(b / top);
  }
  return rgb;
}
