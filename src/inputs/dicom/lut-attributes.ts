/**
 * The attributes that map stored values to what is shown: modality LUT or rescale, VOI LUT or window, palette
 * LUTs, and the functional groups that carry them per frame in enhanced objects.
 */
import type { DataSet } from 'dicom-parser';
import { undecodable } from '../../errors.ts';
import { readDecimal, readInteger } from './attributes.ts';

/** A lookup table as DICOM describes one: entries map inputs firstMapped.. to data[0..]; out-of-range inputs clamp. */
export interface Lut {
  firstMapped: number;
  bits: number;
  data: Uint16Array;
}

/** The LUT's entry for input x (rounded); inputs below or above its range take the first or last entry. */
export function lookup(lut: Lut, x: number): number {
  const i = Math.round(x) - lut.firstMapped;
  return lut.data[i < 0 ? 0 : i >= lut.data.length ? lut.data.length - 1 : i] ?? 0;
}

export interface WindowAttributes {
  center: number;
  width: number;
  function: string;
}

const US_ANY = { vr: 'US', min: 0, max: 0xffff } as const;

/** A US-or-SS value read without knowing its VR (implicit VR): reinterpret as signed when the pixels are signed. */
export function usOrSs(ds: DataSet, tag: string, name: string, signed: boolean, index = 0): number | undefined {
  return readInteger(ds, tag, signed ? { name, vr: 'SS', min: -0x8000, max: 0x7fff, index } : { ...US_ANY, name, index });
}

export function readLut(ds: DataSet, descriptorTag: string, dataTag: string, signedInput: boolean, what: string): Lut {
  const data = ds.elements[dataTag];
  const descriptor = `${what} Descriptor`;
  // Entries and bits are unsigned whatever the descriptor's VR; only the first mapped value follows the pixels.
  const count = readInteger(ds, descriptorTag, { ...US_ANY, name: descriptor });
  const first = usOrSs(ds, descriptorTag, descriptor, signedInput, 1);
  const bits = readInteger(ds, descriptorTag, { name: descriptor, vr: 'US', min: 1, max: 16, index: 2 });
  if (!data || count === undefined || first === undefined || bits === undefined) {
    throw undecodable(`DICOM ${what} has no usable LUT Descriptor/LUT Data`);
  }
  const entries = count === 0 ? 65536 : count;
  const out = new Uint16Array(entries);
  if (bits <= 8 && data.length === entries) {
    // 8-bit entries packed one per byte (OB-like); otherwise entries occupy 16-bit words.
    for (let i = 0; i < entries; i++) out[i] = ds.byteArray[data.dataOffset + i] ?? 0;
  } else {
    if (data.length < entries * 2) throw undecodable(`DICOM ${what} LUT Data is shorter than its descriptor says`);
    for (let i = 0; i < entries; i++) out[i] = ds.byteArrayParser.readUint16(ds.byteArray, data.dataOffset + 2 * i);
  }
  return { firstMapped: first, bits, data: out };
}

export function firstItem(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

export function rescaleOf(ds: DataSet | undefined): { slope: number; intercept: number } | null {
  if (!ds) return null;
  const slope = readDecimal(ds, 'x00281053');
  const intercept = readDecimal(ds, 'x00281052');
  if (slope === undefined && intercept === undefined) return null;
  const s = slope ?? 1;
  const b = intercept ?? 0;
  if (!Number.isFinite(s) || !Number.isFinite(b)) throw undecodable('DICOM Rescale Slope/Intercept is not a number');
  // Stored values reach 2^32: beyond this bound modality values, and the windows made of them, stop being finite.
  if (Math.abs(s) * 2 ** 32 + Math.abs(b) > Number.MAX_VALUE / 4) {
    throw undecodable('DICOM Rescale Slope/Intercept take pixel values beyond the range of numbers');
  }
  return { slope: s, intercept: b };
}

export function windowOf(ds: DataSet | undefined): WindowAttributes | null {
  if (!ds) return null;
  // An unusable window (missing, not a number, width too small) is skipped: the next in the order applies.
  const center = readDecimal(ds, 'x00281050', 0);
  const width = readDecimal(ds, 'x00281051', 0);
  if (center === undefined || width === undefined || !Number.isFinite(center) || !Number.isFinite(width)) return null;
  const fn = (ds.string('x00281056') ?? 'LINEAR').toUpperCase();
  return { center, width, function: fn };
}

/** Frames carry their own transforms in enhanced objects: per-frame group first, then the shared group. */
export function functionalGroups(ds: DataSet, frame: number): (DataSet | undefined)[] {
  return [firstItem(ds, 'x52009230', frame), firstItem(ds, 'x52009229')];
}
