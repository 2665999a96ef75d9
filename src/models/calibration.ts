/**
 * A model directory's calibration (docs/trust.md): `calibration.json` (written by `unimed calibrate` or
 * `bench/trust.py`) and the sha256 of its bytes in `calibration.json.sha256` beside it. Not listed in model.json,
 * so recalibrating leaves the model's identity (its sha256, its prompt-set versions) as it is; the sidecar is what a
 * changed byte is caught by. A file that fails any check stops the model from loading rather than being ignored.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRecord } from '../records.ts';

export const CALIBRATION_FILE = 'calibration.json';
export const CALIBRATION_SHA256_FILE = `${CALIBRATION_FILE}.sha256`;

/** The calibration images' class means and the inverse of their shared (within-class) covariance. */
export interface MahalanobisStatistics {
  /** One mean image embedding per calibration class, each of the model's dimension. */
  readonly means: readonly Float64Array[];
  /** The precision matrix (inverse covariance), row-major, dimension x dimension. */
  readonly precision: Float64Array;
}

/** A prompt set's calibration: its temperature and the sorted conformal scores (1 - p(true label)) of its images. */
export interface PromptSetCalibration {
  version: string;
  labels: readonly string[];
  temperature: number;
  /** Ascending, each in [0, 1]. */
  scores: Float64Array;
}

export interface Calibration {
  /** The sha256 of calibration.json: named in /models and in every answer it shaped. */
  id: string;
  /** For inline labels, which no calibration has seen (model-level). */
  temperature: number;
  /** The out-of-distribution detector (model-level): Mahalanobis statistics and the score past which to abstain. */
  ood: MahalanobisStatistics & { threshold: number };
  promptSets: ReadonlyMap<string, PromptSetCalibration>;
}

/** What the calibration must have been made for. */
export interface CalibratedModel {
  sha256: string;
  embedDim: number;
  /** The encoders' file hashes (model.json `files`), which the calibration may name too. */
  imageEncoderSha256: string;
  textEncoderSha256: string;
}

class CalibrationError extends Error {}

const fail = (why: string): never => {
  throw new CalibrationError(`${CALIBRATION_FILE}: ${why}`);
};

function positive(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${what} must be a positive number`);
  return value as number;
}

function matrix(value: unknown, rows: number | undefined, columns: number, what: string): Float64Array[] {
  if (!Array.isArray(value) || value.length === 0 || (rows !== undefined && value.length !== rows))
    fail(`${what} must be ${rows ?? 'a non-empty list of'} rows of ${columns} numbers`);
  return (value as unknown[]).map((row, i) => {
    if (!Array.isArray(row) || row.length !== columns || !row.every((x) => typeof x === 'number' && Number.isFinite(x)))
      fail(`${what}[${i}] must hold ${columns} finite numbers`);
    return Float64Array.from(row as number[]);
  });
}

function promptSet(name: string, value: unknown): PromptSetCalibration {
  const what = `prompt_sets.${name}`;
  if (!isRecord(value) || typeof value.version !== 'string' || !Array.isArray(value.labels) || !value.labels.every((l) => typeof l === 'string'))
    fail(`${what} needs version and labels`);
  const set = value as Record<string, unknown> & { version: string; labels: string[] };
  const conformal = set.conformal;
  const sorted = isRecord(conformal) ? conformal.sorted_scores : undefined;
  if (!Array.isArray(sorted) || sorted.length === 0) fail(`${what}.conformal.sorted_scores must be a non-empty list`);
  const scores = Float64Array.from(sorted as number[]);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!(s >= 0 && s <= 1) || (i > 0 && s < scores[i - 1]!)) fail(`${what}.conformal.sorted_scores must ascend within [0, 1]`);
  }
  if (isRecord(conformal) && conformal.n !== undefined && conformal.n !== scores.length)
    fail(`${what}.conformal.n does not count the ${scores.length} scores listed`);
  return { version: set.version, labels: set.labels, temperature: positive(set.temperature, `${what}.temperature`), scores };
}

/** Checks the parsed file against the model it was made for; every problem is named. */
export function parseCalibration(text: string, id: string, model: CalibratedModel): Calibration {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('is not valid JSON');
  }
  if (!isRecord(parsed) || parsed.format !== 'unimed-calibration' || parsed.format_version !== 1)
    fail('is not a unimed-calibration file of format_version 1');
  const file = parsed as Record<string, unknown>;
  const made = isRecord(file.model) ? file.model : fail('has no model');
  if (made.sha256 !== model.sha256) fail('was made for another model (its model.sha256 differs from this model directory): recalibrate');
  if (made.embed_dim !== model.embedDim) fail(`model.embed_dim is ${String(made.embed_dim)}, the model's is ${model.embedDim}`);
  if (made.image_encoder_sha256 !== undefined && made.image_encoder_sha256 !== model.imageEncoderSha256)
    fail('was made with another image encoder');
  if (made.text_encoder_sha256 !== undefined && made.text_encoder_sha256 !== model.textEncoderSha256) fail('was made with another text encoder');
  const temperature = isRecord(file.temperature) ? positive(file.temperature.value, 'temperature.value') : fail('has no temperature');
  const ood = isRecord(file.ood) ? file.ood : fail('has no ood detector');
  if (ood.method !== 'mahalanobis') fail(`ood.method "${String(ood.method)}" is not one this service computes (mahalanobis)`);
  const threshold = ood.threshold;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) fail('ood.threshold must be a finite number');
  const means = matrix(ood.means, undefined, model.embedDim, 'ood.means');
  const precisionRows = matrix(ood.precision, model.embedDim, model.embedDim, 'ood.precision');
  const precision = new Float64Array(model.embedDim * model.embedDim);
  precisionRows.forEach((row, i) => precision.set(row, i * model.embedDim));
  const sets = isRecord(file.prompt_sets) ? file.prompt_sets : {};
  const promptSets = new Map(Object.entries(sets).map(([name, value]) => [name, promptSet(name, value)] as const));
  return { id, temperature, ood: { means, precision, threshold: threshold as number }, promptSets };
}

/**
 * The model directory's calibration, or undefined when it has none. Rejects when calibration.json is there but
 * its sidecar is not, when either does not match, or when the file does not fit the model.
 */
export async function readCalibration(dir: string, model: CalibratedModel): Promise<Calibration | undefined> {
  const read = async (name: string): Promise<Buffer | undefined> => {
    try {
      return await readFile(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const [bytes, sidecar] = await Promise.all([read(CALIBRATION_FILE), read(CALIBRATION_SHA256_FILE)]);
  if (bytes === undefined) {
    if (sidecar !== undefined) fail(`is missing while ${CALIBRATION_SHA256_FILE} is there`);
    return undefined;
  }
  const expected = /^([0-9a-f]{64}) [ *]calibration\.json\r?\n?$/.exec(sidecar?.toString('utf8') ?? '')?.[1];
  if (expected === undefined) fail(`needs ${CALIBRATION_SHA256_FILE} beside it ("<sha256>  ${CALIBRATION_FILE}", as sha256sum writes)`);
  const id = createHash('sha256').update(bytes).digest('hex');
  if (id !== expected) fail(`its sha256 is ${id}, ${CALIBRATION_SHA256_FILE} says ${expected}: the file changed since it was made`);
  return parseCalibration(bytes.toString('utf8'), id, model);
}

/**
 * The calibration as it applies to the prompt sets served: a calibrated set served with another version or other
 * labels (a PROMPT_SETS file replaced it) has no calibration of its own any more. Returns the calibration without
 * those sets and their names, for the caller to warn about; the rest of the file still applies.
 */
export function forServedPromptSets(
  calibration: Calibration,
  served: ReadonlyMap<string, { version: string; labels: readonly string[] }>,
): { calibration: Calibration; stale: string[] } {
  const stale: string[] = [];
  const promptSets = new Map<string, PromptSetCalibration>();
  for (const [name, set] of calibration.promptSets) {
    const now = served.get(name);
    const same = now !== undefined && now.version === set.version && now.labels.join('\u0000') === set.labels.join('\u0000');
    if (same) promptSets.set(name, set);
    else stale.push(name);
  }
  return { calibration: { ...calibration, promptSets }, stale };
}
