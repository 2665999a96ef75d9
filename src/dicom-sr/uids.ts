/**
 * The SR's UIDs, derived from everything that determines its content, so that the same evaluation always gets the
 * same UIDs (a retried job stores the same instance again; a PACS never holds two results of one evaluation) and
 * any change of what was evaluated, or how, gets new ones (docs/pacs.md "DICOM SR answers").
 *
 * A UID is `2.25.` and the decimal of a UUID (ITU-T X.667, PS3.5 B.2), here an RFC 9562 version 8 UUID made of
 * the first 128 bits of SHA-256 over a salt (which UID it is) and the canonical JSON of the determining parts,
 * with the version and variant bits set.
 */
import { createHash } from 'node:crypto';

/** Everything that determines an SR's content. Optional parts are left out of the hash when absent. */
export interface EvaluationKey {
  /** The evaluated instances' SOP Instance UIDs, each with the frame evaluated (1-based) for a multi-frame one. */
  instances: { uid: string; frame?: number }[];
  modelSha256: string;
  /** What was classified against: a prompt set (name and version), or inline labels (name and text) and templates. */
  classes: { promptSet: { name: string; version: string } } | { labels: { name: string; text: string }[]; templates: string[] };
  /** How the pixels were rendered for the model (window, frame, ...), as the request set them. */
  rendering?: Record<string, unknown>;
  /** Issue 23's calibration, abstention policy and coverage: parts of the key once a request uses them. */
  calibrationId?: string;
  policy?: string;
  coverage?: number;
}

/** JSON with object keys sorted and undefined members left out: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** `2.25.<UUIDv8 as a decimal>` of SHA-256 over the salt and the canonical JSON of `parts`. */
export function derivedUid(salt: string, parts: unknown): string {
  const digest = createHash('sha256').update(`unimed-serve/${salt}\n`).update(canonicalJson(parts)).digest();
  const uuid = Buffer.from(digest.subarray(0, 16));
  uuid[6] = (uuid[6]! & 0x0f) | 0x80; // version 8
  uuid[8] = (uuid[8]! & 0x3f) | 0x80; // variant 10
  return `2.25.${BigInt(`0x${uuid.toString('hex')}`).toString(10)}`;
}

export interface ReportUids {
  study: string;
  series: string;
  instance: string;
  /** The measurement group's Tracking Unique Identifier: the evaluation itself. */
  evaluation: string;
  /** The Device Observer UID: the model, by its sha256. */
  device: string;
}

/**
 * The SR's UIDs: Study from the source (the SR files under it); Series, SOP Instance and the evaluation's tracking
 * UID from the key (each its own salt); the device from the model's sha256 alone. The instances are sorted, so
 * the same instances listed in another order are the same evaluation.
 */
export function reportUids(studyUid: string, key: EvaluationKey): ReportUids {
  const instances = [...key.instances].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : (a.frame ?? 0) - (b.frame ?? 0)));
  const parts = { ...key, instances, study: studyUid };
  return {
    study: studyUid,
    series: derivedUid('sr-series', parts),
    instance: derivedUid('sr-instance', parts),
    evaluation: derivedUid('evaluation', parts),
    device: derivedUid('model', { modelSha256: key.modelSha256 }),
  };
}
