/**
 * Classification answers as a FHIR R4 Observation (docs/pacs.md "Results a record understands"), for clients that send
 * `Accept: application/fhir+json`. Only the shape of the answer changes: the scores are those of the JSON answer.
 */
import type { FastifyRequest } from 'fastify';
import type { Abstention } from '../../zeroshot/trusted-answer.ts';
import type { Prediction } from '../../models/types.ts';

export const FHIR_MEDIA_TYPE = 'application/fhir+json';

/** This service's code system for what was classified against: a prompt set's name, or `zero-shot-classification`. */
export const PROMPT_SET_SYSTEM = 'urn:unimed-serve:prompt-set';
/** This service's code system for the labels (the classes of one request or prompt set). */
export const LABEL_SYSTEM = 'urn:unimed-serve:label';
/** HL7's code for "artificial intelligence asserted", the AI-transparency security label. */
const AI_ASSERTED = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'AIAST',
  display: 'Artificial Intelligence asserted',
};
/** DICOM UIDs as FHIR identifiers (FHIR R4 ImagingStudy.identifier: system urn:dicom:uid, value urn:oid:UID). */
const DICOM_UID_SYSTEM = 'urn:dicom:uid';
const ZERO_SHOT = 'zero-shot-classification';

/**
 * Whether the client prefers FHIR: `application/fhir+json` in Accept with a quality above 0 and at least that of
 * `application/json` (wildcards count for plain JSON, the default answer).
 */
export function wantsFhir(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  if (typeof accept !== 'string' || accept.length > 4096) return false;
  let fhir = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    if (!Number.isFinite(quality)) continue;
    if (type === FHIR_MEDIA_TYPE) fhir = Math.max(fhir, quality);
    else if (type === 'application/json' || type === 'application/*' || type === '*/*') json = Math.max(json, quality);
  }
  return fhir > 0 && fhir >= json;
}

/** What the Observation is built from: the answer's scores, the model, and UIDs the client itself sent. */
export interface ObservationInput {
  model: { id: string; sha256: string };
  promptSet?: { name: string; version: string } | undefined;
  /** Every label's prediction, best first (not cut by top_k: an Observation lists them all). */
  predictions: Prediction[];
  /** Set when the service declined to name a label (docs/trust.md): the Observation then carries no finding value. */
  abstained?: Abstention | null;
  /** The Study Instance UID from the request's DICOMweb reference; never read from an uploaded file. */
  studyUid?: string | undefined;
}

interface Coding {
  system: string;
  code: string;
  display?: string;
}

/** Why an abstained Observation has no value (FHIR's data-absent-reason), in words a reader of the record understands. */
function abstainedReason(abstained: Abstention): { coding: Coding[]; text: string } {
  const why =
    abstained.reason === 'out_of_distribution'
      ? `the image is unlike the images the model was calibrated on (out-of-distribution score ${decimal(abstained.score)} above ${decimal(abstained.threshold)})`
      : `no label reached the requested probability (${decimal(abstained.score)} below ${decimal(abstained.threshold)})`;
  return {
    coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' }],
    text: `Abstained: ${why}.`,
  };
}

/** FHIR's `code` type: no leading, trailing or doubled whitespace. A label that is not one is sent as text only. */
const FHIR_CODE = /^[^\s]+( [^\s]+)*$/;

function concept(system: string, code: string, display?: string): { coding?: Coding[]; text: string } {
  const coding: Coding = { system, code, ...(display === undefined ? {} : { display }) };
  return FHIR_CODE.test(code) ? { coding: [coding], text: display ?? code } : { text: display ?? code };
}

/** Probabilities as FHIR decimals, rounded so that they read like the JSON answer's and stay finite. */
const decimal = (value: number): number => Math.round(value * 1e6) / 1e6;

/**
 * The Observation: status preliminary (a model's output awaiting a clinician), the classes' source as `code`, the
 * top label as the value, every label's probability as a component (unit "1"), the model as a contained Device
 * (id and sha256), the AIAST security label, and `derivedFrom` the study only when the request named one.
 */
export function classificationObservation(input: ObservationInput, issued = new Date()): Record<string, unknown> {
  const [top] = input.predictions;
  if (top === undefined) throw new Error('an Observation needs at least one prediction');
  const source =
    input.promptSet === undefined
      ? concept(PROMPT_SET_SYSTEM, ZERO_SHOT, 'zero-shot classification')
      : concept(PROMPT_SET_SYSTEM, input.promptSet.name);
  const device = {
    resourceType: 'Device',
    id: 'model',
    deviceName: [{ name: input.model.id, type: 'model-name' }],
    version: [{ type: { text: 'sha256' }, value: input.model.sha256 }],
  };
  return {
    resourceType: 'Observation',
    meta: { security: [AI_ASSERTED] },
    contained: [device],
    status: 'preliminary',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' }] }],
    code: source,
    issued: issued.toISOString(),
    ...(input.abstained == null
      ? { valueCodeableConcept: concept(LABEL_SYSTEM, top.label) }
      : { dataAbsentReason: abstainedReason(input.abstained) }),
    note: [
      { text: 'Research aid, not a diagnosis: probabilities are a softmax over the labels offered only, so one of them is always chosen.' },
      ...(input.abstained == null ? [] : [{ text: 'The service abstained: the components are scores not to be acted on.' }]),
    ],
    device: { reference: '#model', display: `${input.model.id} (sha256 ${input.model.sha256})` },
    ...(input.studyUid === undefined
      ? {}
      : { derivedFrom: [{ type: 'ImagingStudy', identifier: { system: DICOM_UID_SYSTEM, value: `urn:oid:${input.studyUid}` } }] }),
    component: input.predictions.map((p) => ({
      code: concept(LABEL_SYSTEM, p.label),
      valueQuantity: { value: decimal(p.probability), unit: '1', system: 'http://unitsofmeasure.org', code: '1' },
    })),
  };
}
