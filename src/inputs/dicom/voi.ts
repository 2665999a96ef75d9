/** Greyscale presentation: the modality transform, the VOI (window or LUT) in its order of precedence, inversion. */
import { badRequest } from '../../errors.ts';
import { lookup } from './lut-attributes.ts';
import type { ImageDescription } from './parse.ts';
import type { RenderOptions, WindowRecord } from './types.ts';
import { WINDOW_PRESETS } from './types.ts';
import { linear, linearExact, sigmoid, type VoiMap } from './window.ts';

export function modalityTransform(d: ImageDescription): (s: number) => number {
  const lut = d.modalityLut;
  if (lut) return (s) => lookup(lut, s);
  const r = d.rescale;
  if (r) return (s) => s * r.slope + r.intercept;
  return (s) => s;
}

export interface Voi {
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
export function chooseVoi(d: ImageDescription, options: RenderOptions, auto: () => { center: number; width: number }): Voi {
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

export function invertsGreyscale(d: ImageDescription): boolean {
  // Presentation LUT Shape, when present, already accounts for MONOCHROME1: apply one inversion, never two.
  if (d.presentationLutShape === 'INVERSE') return true;
  if (d.presentationLutShape === 'IDENTITY') return false;
  return d.photometric === 'MONOCHROME1';
}
