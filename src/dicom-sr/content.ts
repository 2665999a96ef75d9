/**
 * The SR's content tree, TID 1500-style (PS3.16 TID 1500 Measurement Report): observer context (the model as a
 * device), the image library of the evaluated instances, and one measurement group (TID 1501) holding the
 * algorithm (TID 4019), the source instances, the classification as a qualitative evaluation (the top label, or
 * Undetermined when the policy abstained), the prediction set when there is one, and each label's probability.
 * Knows nothing of HTTP or of how the SR is written.
 */
import { CODES, privateCode, type Code } from './codes.ts';
import type { SourceInstance } from './source.ts';
import type { ReportUids } from './uids.ts';

type Item = Record<string, unknown>;
type Relationship = 'CONTAINS' | 'HAS OBS CONTEXT' | 'HAS CONCEPT MOD';

/** An evaluated instance, with the frame (1-based) that was evaluated when it has several. */
export interface EvaluatedInstance {
  source: SourceInstance;
  frame?: number;
}

/** What the tree says: the model, the classes' source, the predictions, and issue 23's parts when present. */
export interface ReportContent {
  model: { id: string; sha256: string };
  promptSet?: { name: string; version: string } | undefined;
  /** Every label with its probability, most probable first. */
  predictions: { label: string; probability: number }[];
  /** Set when a policy decided whether to answer (issue 23): `abstained` writes Undetermined as the finding. */
  abstention?: { abstained: boolean };
  /** The labels of a conformal prediction set (issue 23). */
  predictionSet?: string[];
  calibrationId?: string;
  policy?: string;
  coverage?: number;
  instances: EvaluatedInstance[];
}

const item = (relationship: Relationship, valueType: string, name: Code | undefined, value: Item): Item => ({
  RelationshipType: relationship,
  ValueType: valueType,
  ...(name === undefined ? {} : { ConceptNameCodeSequence: [name] }),
  ...value,
});
const container = (relationship: Relationship, name: Code, children: Item[]): Item =>
  item(relationship, 'CONTAINER', name, { ContinuityOfContent: 'SEPARATE', ContentSequence: children });
const text = (relationship: Relationship, name: Code, value: string): Item => item(relationship, 'TEXT', name, { TextValue: value });
const code = (relationship: Relationship, name: Code, value: Code): Item =>
  item(relationship, 'CODE', name, { ConceptCodeSequence: [value] });
const uidRef = (relationship: Relationship, name: Code, value: string): Item => item(relationship, 'UIDREF', name, { UID: value });

function image(name: Code | undefined, { source, frame }: EvaluatedInstance): Item {
  const reference = {
    ReferencedSOPClassUID: source.sopClassUid,
    ReferencedSOPInstanceUID: source.sopInstanceUid,
    ...(frame === undefined ? {} : { ReferencedFrameNumber: String(frame) }),
  };
  return item('CONTAINS', 'IMAGE', name, { ReferencedSOPSequence: [reference] });
}

/** A probability as DS: six decimals, like the FHIR answer's decimals. */
export const probabilityText = (p: number): string => (Math.round(Math.min(1, Math.max(0, p)) * 1e6) / 1e6).toFixed(6);

function probability(label: string, p: number): Item {
  const measured = { MeasurementUnitsCodeSequence: [CODES.noUnits], NumericValue: probabilityText(p) };
  return item('CONTAINS', 'NUM', privateCode(label), { MeasuredValueSequence: [measured] });
}

/** Algorithm Identification (TID 4019): the model id, its sha256 as the version, and what it was run with. */
function algorithm(content: ReportContent): Item[] {
  const parameters = [
    content.promptSet === undefined
      ? 'classes: inline labels and templates'
      : `prompt set: ${content.promptSet.name} ${content.promptSet.version}`,
    ...(content.calibrationId === undefined ? [] : [`calibration: ${content.calibrationId}`]),
    ...(content.policy === undefined ? [] : [`policy: ${content.policy}`]),
    ...(content.coverage === undefined ? [] : [`coverage: ${content.coverage}`]),
  ];
  return [
    text('HAS CONCEPT MOD', CODES.algorithmName, content.model.id),
    text('HAS CONCEPT MOD', CODES.algorithmVersion, content.model.sha256),
    ...parameters.map((p) => text('HAS CONCEPT MOD', CODES.algorithmParameters, p)),
  ];
}

function evaluations(content: ReportContent): Item[] {
  const [top] = content.predictions;
  if (top === undefined) throw new Error('a classification report needs at least one prediction');
  const question = content.promptSet === undefined ? CODES.zeroShot : privateCode(content.promptSet.name);
  const finding = content.abstention?.abstained === true ? CODES.undetermined : privateCode(top.label);
  return [
    code('CONTAINS', question, finding),
    ...(content.abstention === undefined ? [] : [code('CONTAINS', CODES.abstained, content.abstention.abstained ? CODES.yes : CODES.no)]),
    ...(content.predictionSet ?? []).map((label) => code('CONTAINS', CODES.predictionSetMember, privateCode(label))),
    ...content.predictions.map((p) => probability(p.label, p.probability)),
  ];
}

/** The root container's attributes and content (SR Document Content module). */
export function contentTree(content: ReportContent, uids: ReportUids): Item {
  const group = container('CONTAINS', CODES.measurementGroup, [
    text('HAS OBS CONTEXT', CODES.trackingIdentifier, 'zero-shot classification'),
    uidRef('HAS OBS CONTEXT', CODES.trackingUid, uids.evaluation),
    ...algorithm(content),
    ...content.instances.map((instance) => image(CODES.source, instance)),
    ...evaluations(content),
  ]);
  const library = container('CONTAINS', CODES.imageLibrary, [
    container(
      'CONTAINS',
      CODES.imageLibraryGroup,
      content.instances.map((instance) => image(undefined, instance)),
    ),
  ]);
  return {
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [CODES.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: [
      code('HAS CONCEPT MOD', CODES.languageOfContent, CODES.englishUs),
      code('HAS OBS CONTEXT', CODES.observerType, CODES.device),
      uidRef('HAS OBS CONTEXT', CODES.deviceObserverUid, uids.device),
      text('HAS OBS CONTEXT', CODES.deviceObserverName, 'unimed-serve'),
      text('HAS OBS CONTEXT', CODES.deviceObserverManufacturer, 'unimed-serve'),
      text('HAS OBS CONTEXT', CODES.deviceObserverModelName, content.model.id),
      code('HAS CONCEPT MOD', CODES.procedureReported, CODES.imagingProcedure),
      library,
      container('CONTAINS', CODES.imagingMeasurements, [group]),
    ],
  };
}
