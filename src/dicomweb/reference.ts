/**
 * References to DICOM objects on a named source, as requests give them: `{"source", "study", "series",
 * "instance", "frame"?}` (an instance) or `{"source", "study", "series"}` (a series). UIDs are checked here,
 * before any request leaves: digits and dots, at most 64 characters (PS3.5 9.1), so nothing else can reach a URL.
 */
import { badRequest } from '../errors.ts';
import { isRecord } from '../records.ts';

export interface SeriesReference {
  source: string;
  study: string;
  series: string;
}

export interface InstanceReference extends SeriesReference {
  instance: string;
  /** 0-based, as everywhere in this API (WADO-RS numbers frames from 1). */
  frame?: number;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;
const MAX_FRAME = 1_000_000;

/** A UID as DICOM defines one; the message names the field, never the value (UIDs link to a patient's study). */
export function isUid(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && UID.test(value);
}

function uid(value: Record<string, unknown>, key: string, what: string): string {
  const given = value[key];
  if (!isUid(given)) throw badRequest(`${what}.${key} must be a DICOM UID (digits and dots, at most 64 characters)`);
  return given;
}

function sourceName(value: Record<string, unknown>, what: string): string {
  const { source } = value;
  if (typeof source !== 'string' || source === '' || source.length > 64)
    throw badRequest(`${what}.source must name a configured DICOMweb source`);
  return source;
}

function only(value: Record<string, unknown>, keys: readonly string[], what: string): void {
  const extra = Object.keys(value).find((k) => !keys.includes(k));
  if (extra !== undefined) throw badRequest(`${what}: unknown property "${extra.slice(0, 64)}" (accepted: ${keys.join(', ')})`);
}

export function parseSeriesReference(value: unknown, what: string): SeriesReference {
  if (!isRecord(value)) throw badRequest(`${what} must be an object {"source", "study", "series"}`);
  only(value, ['source', 'study', 'series'], what);
  return { source: sourceName(value, what), study: uid(value, 'study', what), series: uid(value, 'series', what) };
}

export function parseInstanceReference(value: unknown, what: string): InstanceReference {
  if (!isRecord(value)) throw badRequest(`${what} must be an object {"source", "study", "series", "instance", "frame"?}`);
  only(value, ['source', 'study', 'series', 'instance', 'frame'], what);
  const reference: InstanceReference = {
    source: sourceName(value, what),
    study: uid(value, 'study', what),
    series: uid(value, 'series', what),
    instance: uid(value, 'instance', what),
  };
  const { frame } = value;
  if (frame !== undefined) {
    if (typeof frame !== 'number' || !Number.isInteger(frame) || frame < 0 || frame > MAX_FRAME) {
      throw badRequest(`${what}.frame must be an integer from 0 to ${MAX_FRAME} (0-based)`);
    }
    reference.frame = frame;
  }
  return reference;
}
