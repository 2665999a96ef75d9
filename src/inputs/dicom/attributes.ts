/**
 * The one place numbers are read out of a DICOM header. Every value that sizes or indexes memory (rows,
 * columns, bit depths, samples, frames, LUT descriptors) goes through readInteger, which either returns an
 * integer inside the range the pipeline accepts or throws a 422 naming the attribute; decimal strings (rescale,
 * window) go through readDecimal. Unparseable text from the file is never echoed back.
 */
import type { DataSet } from 'dicom-parser';
import { undecodable } from '../../errors.ts';

export interface IntegerSpec {
  /** The attribute's name, for the error message. */
  name: string;
  /** How the value is encoded: a 16-bit binary value read unsigned (US) or signed (SS), or an integer string (IS). */
  vr: 'US' | 'SS' | 'IS';
  min: number;
  max: number;
  /** Which value of a multi-valued attribute (default 0). */
  index?: number;
}

/** Explicit VRs a binary 16-bit value may arrive under (US/SS, OW, or UN from a converter that lost the VR). */
const BINARY_VRS = new Set(['US', 'SS', 'OW', 'UN']);
const TEXT_VRS = new Set(['IS', 'UN']);
const INTEGER_STRING = /^[+-]?\d{1,12}$/;
const DECIMAL_STRING = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function tagName(tag: string): string {
  return `(${tag.slice(1, 5).toUpperCase()},${tag.slice(5).toUpperCase()})`;
}

function label(name: string, tag: string): string {
  return `DICOM ${name} ${tagName(tag)}`;
}

/** The index-th backslash-separated value of a string attribute, trimmed; undefined when absent or empty. */
function textValue(ds: DataSet, tag: string, index: number): string | undefined {
  const whole = ds.string(tag);
  const value =
    typeof whole === 'string'
      ? whole
          .split('\\')
          [index]?.replace(/[\0 ]+$/, '')
          .trim()
      : undefined;
  return value === '' ? undefined : value;
}

/**
 * An integer attribute: undefined when it is absent or empty (the caller's default applies); otherwise an
 * integer in [spec.min, spec.max], or a 422 when it is encoded under the wrong VR, too short, not an integer or
 * out of range.
 */
export function readInteger(ds: DataSet, tag: string, spec: IntegerSpec): number | undefined {
  const element = ds.elements[tag];
  if (!element || element.length === 0) return undefined;
  const index = spec.index ?? 0;
  const what = label(spec.name, tag);
  const vr = element.vr;
  let value: number;
  if (spec.vr === 'IS') {
    if (vr !== undefined && !TEXT_VRS.has(vr)) throw undecodable(`${what} is not an integer string (IS)`);
    const text = textValue(ds, tag, index);
    if (text === undefined) return undefined;
    if (!INTEGER_STRING.test(text)) throw undecodable(`${what} is not an integer`);
    value = Number(text);
  } else {
    if (vr !== undefined && !BINARY_VRS.has(vr)) throw undecodable(`${what} is not a binary ${spec.vr} value`);
    const end = 2 * (index + 1);
    if (element.length < end || element.dataOffset + end > ds.byteArray.length) {
      throw undecodable(`${what} is ${element.length} bytes long, too short for ${index + 1} value(s)`);
    }
    const raw = ds.uint16(tag, index)!;
    value = spec.vr === 'SS' && raw >= 0x8000 ? raw - 0x10000 : raw;
  }
  if (!Number.isSafeInteger(value) || value < spec.min || value > spec.max) {
    throw undecodable(`${what} is ${value}, outside the range ${spec.min}..${spec.max}`);
  }
  return value;
}

/** readInteger for an attribute the image cannot do without: missing is a 422 too. */
export function requireInteger(ds: DataSet, tag: string, spec: IntegerSpec): number {
  const value = readInteger(ds, tag, spec);
  if (value === undefined) throw undecodable(`DICOM image is missing ${spec.name} ${tagName(tag)}`);
  return value;
}

/**
 * A decimal string (DS) value: undefined when absent or empty, NaN when it is not a decimal number (the
 * caller decides whether that is fatal), else the number. Stricter than parseFloat, which reads "40abc" as 40.
 */
export function readDecimal(ds: DataSet | undefined, tag: string, index = 0): number | undefined {
  if (!ds?.elements[tag] || ds.elements[tag].length === 0) return undefined;
  const text = textValue(ds, tag, index);
  if (text === undefined) return undefined;
  return DECIMAL_STRING.test(text) ? Number(text) : NaN;
}
