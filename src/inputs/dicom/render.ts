import { badRequest } from '../../errors.ts';
import { decodeFrame } from './codecs.ts';
import { describe, type ImageDescription, type Lut } from './parse.ts';
import type { DecodeLimits, RenderedImage, RenderOptions, WindowRecord } from './types.ts';
import { WINDOW_PRESETS } from './types.ts';
import { distinctCounts, linear, linearExact, percentileWindow, sigmoid, to8bit, type VoiMap } from './window.ts';

/** Stored values: masked to Bits Stored, shifted down from High Bit, sign-extended when Pixel Representation says so. */
function storedValues(bytes: Uint8Array, bitsAllocated: number, bitsStored: number, highBit: number, signed: boolean): Int32Array | Float64Array {
  const count = bytes.length / (bitsAllocated / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shift = highBit + 1 - bitsStored;
  const range = 2 ** bitsStored;
  const half = range / 2;
  if (bitsAllocated <= 16) {
    const out = new Int32Array(count);
    const mask = range - 1;
    for (let i = 0; i < count; i++) {
      const v = ((bitsAllocated === 8 ? view.getUint8(i) : view.getUint16(2 * i, true)) >>> shift) & mask;
      out[i] = signed && v >= half ? v - range : v;
    }
    return out;
  }
  // 32-bit words: plain arithmetic, since bitwise operators would turn values of 2^31 and up negative.
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = Math.floor(view.getUint32(4 * i, true) / 2 ** shift) % range;
    out[i] = signed && v >= half ? v - range : v;
  }
  return out;
}

/** Big-endian native data is swapped to host order (in a copy); 8-bit samples in OW words are swapped pairwise too. */
function hostOrder(d: ImageDescription): Uint8Array {
  if (d.encoding.kind !== 'native' || !d.encoding.bigEndian) return d.frameBytes;
  const copy = new Uint8Array(d.frameBytes);
  const word = d.bitsAllocated === 8 ? (d.pixelVr === 'OW' ? 2 : 1) : d.bitsAllocated / 8;
  if (word === 2) Buffer.from(copy.buffer).swap16();
  if (word === 4) Buffer.from(copy.buffer).swap32();
  return copy;
}

function lookup(lut: Lut, x: number): number {
  const i = Math.round(x) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= lut.data.length ? lut.data.length - 1 : i] ?? 0;
}

function modalityTransform(d: ImageDescription): (s: number) => number {
  const lut = d.modalityLut;
  if (lut) return (s) => lookup(lut, s);
  const r = d.rescale;
  if (r) return (s) => s * r.slope + r.intercept;
  return (s) => s;
}

interface Voi {
  map: VoiMap;
  record: WindowRecord;
}

function fixedWindow(center: number, width: number, fn: string, source: WindowRecord['source']): Voi | null {
  switch (fn) {
    case 'LINEAR':
      return width >= 1 ? { map: linear(center, width), record: { center, width, function: 'LINEAR', source } } : null;
    case 'LINEAR_EXACT':
      return width > 0 ? { map: linearExact(center, width), record: { center, width, function: 'LINEAR_EXACT', source } } : null;
    case 'SIGMOID':
      return width > 0 ? { map: sigmoid(center, width), record: { center, width, function: 'SIGMOID', source } } : null;
    default:
      return null;
  }
}

/** VOI in the order of precedence: request, VOI LUT Sequence, file window, automatic percentile window. */
function chooseVoi(d: ImageDescription, options: RenderOptions, auto: () => { center: number; width: number }): Voi {
  if ((options.windowCenter === undefined) !== (options.windowWidth === undefined)) {
    throw badRequest('window_center and window_width must be given together');
  }
  if (options.windowCenter !== undefined && options.windowWidth !== undefined) {
    if (!Number.isFinite(options.windowCenter) || !Number.isFinite(options.windowWidth)) {
      throw badRequest('window_center and window_width must be finite numbers');
    }
    const voi = fixedWindow(options.windowCenter, options.windowWidth, 'LINEAR', 'request');
    if (!voi) throw badRequest(`window_width must be at least 1, got ${options.windowWidth}`);
    return voi;
  }
  if (options.window !== undefined) {
    const preset = Object.hasOwn(WINDOW_PRESETS, options.window) ? WINDOW_PRESETS[options.window] : undefined;
    if (!preset) throw badRequest(`unknown window preset "${String(options.window)}"; known: ${Object.keys(WINDOW_PRESETS).join(', ')}`);
    return fixedWindow(preset.center, preset.width, 'LINEAR', 'request')!;
  }
  const lut = d.voiLut;
  if (lut) {
    const top = 2 ** lut.bits - 1;
    return { map: (x) => lookup(lut, x) / top, record: { center: null, width: null, function: 'LUT', source: 'voi_lut' } };
  }
  if (d.window) {
    const voi = fixedWindow(d.window.center, d.window.width, d.window.function, 'file');
    if (voi) return voi;
  }
  const { center, width } = auto();
  return { map: linearExact(center, width), record: { center, width, function: 'LINEAR_EXACT', source: 'auto' } };
}

function invertsGreyscale(d: ImageDescription): boolean {
  // Presentation LUT Shape, when present, already accounts for MONOCHROME1: apply one inversion, never two.
  if (d.presentationLutShape === 'INVERSE') return true;
  if (d.presentationLutShape === 'IDENTITY') return false;
  return d.photometric === 'MONOCHROME1';
}

function greyscale(d: ImageDescription, bytes: Uint8Array, options: RenderOptions): { rgb: Buffer; window: WindowRecord; inverted: boolean } {
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

function palette(d: ImageDescription, bytes: Uint8Array): Buffer {
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
function expand422(samples: Int32Array | Float64Array, pixels: number): Float64Array {
  const out = new Float64Array(pixels * 3);
  for (let p = 0, i = 0; p < pixels; p += 2, i += 4) {
    const cb = samples[i + 2] ?? 0;
    const cr = samples[i + 3] ?? 0;
    out.set([samples[i] ?? 0, cb, cr], p * 3);
    if (p + 1 < pixels) out.set([samples[i + 1] ?? 0, cb, cr], (p + 1) * 3);
  }
  return out;
}

function colour(d: ImageDescription, bytes: Uint8Array, photometric: string, planar: number): Buffer {
  const pixels = d.rows * d.columns;
  const stored = storedValues(bytes, d.bitsAllocated, d.bitsStored, d.highBit, false);
  let samples: ArrayLike<number> = stored;
  if (d.encoding.kind === 'native' && (photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_422')) {
    samples = expand422(stored, pixels);
  } else if (planar === 1) {
    const interleaved = new Float64Array(pixels * 3);
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

/**
 * The whole pipeline for one frame, synchronously: parse and check, decode, then stored values -> modality LUT
 * -> VOI -> presentation (greyscale), or colour conversion. Codecs must have been loaded (loadCodecs).
 */
export function renderDicomSync(bytes: Uint8Array, options: RenderOptions, limits: DecodeLimits): RenderedImage {
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
