/**
 * What an SR takes from each evaluated instance: the Patient and General Study modules, to file the SR under the
 * instance's study, and the UIDs it references. Read with dcmjs (which decodes Specific Character Set) from the
 * header only (reading stops at Pixel Data), after the instance has been decoded for the model, so its size and
 * form have been checked already. Values are held in memory only, never logged.
 */
import { ServiceError } from '../errors.ts';
import { DicomDict, DicomMessage, DicomMetaDictionary, type NaturalDataset } from './dcmjs.ts';

/** Patient module (PS3.3 C.7.1.1): the attributes copied into the SR, Type 2 there (present, maybe empty). */
export const PATIENT_KEYWORDS = ['PatientName', 'PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientSex'] as const;
/** General Study module (PS3.3 C.7.2.1), less the Study Instance UID (required: see SourceInstance.studyUid). */
export const STUDY_KEYWORDS = [
  'StudyDate',
  'StudyTime',
  'ReferringPhysicianName',
  'StudyID',
  'AccessionNumber',
  'StudyDescription',
] as const;
/** Copied only when present in the source (Type 3 or optional there); the others are written empty when absent. */
const OPTIONAL = new Set<string>(['IssuerOfPatientID', 'StudyDescription']);

export interface SourceInstance {
  sopClassUid: string;
  sopInstanceUid: string;
  studyUid: string;
  seriesUid: string;
  /** Patient and study attributes as dcmjs naturalizes them (keyword -> value), to be written back as read. */
  context: NaturalDataset;
}

const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';
const UID = /^[0-9]+(\.[0-9]+)*$/;

const notReportable = (why: string): ServiceError => new ServiceError('not_acceptable', `no DICOM SR can be made of this instance: ${why}`);

function hasPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && Buffer.from(bytes.buffer, bytes.byteOffset + 128, 4).toString('latin1') === 'DICM';
}

/** A bare data set (legal on the wire: implicit VR little endian) behind a preamble and meta header, as dcmjs reads files. */
function asPart10(bytes: Uint8Array): ArrayBuffer {
  if (hasPreamble(bytes)) {
    // The bytes' own ArrayBuffer when they fill it (a large Buffer is not pooled), else a copy of just them.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    return whole ? bytes.buffer : new Uint8Array(bytes).buffer;
  }
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    TransferSyntaxUID: IMPLICIT_LITTLE_ENDIAN,
  });
  const head = new Uint8Array(new DicomDict(meta).write());
  const whole = new Uint8Array(head.length + bytes.length);
  whole.set(head, 0);
  whole.set(bytes, head.length);
  return whole.buffer;
}

function uidOf(dataset: NaturalDataset, keyword: string, name: string): string {
  const value = dataset[keyword];
  const uid = typeof value === 'string' ? value.replace(/\0/g, '').trim() : undefined;
  if (uid === undefined || uid === '') throw notReportable(`it has no ${name}`);
  if (uid.length > 64 || !UID.test(uid)) throw notReportable(`its ${name} is not a valid UID`);
  return uid;
}

/** The instance's UIDs and patient and study attributes; a 406 (not_acceptable) when it lacks a UID the SR needs. */
export function readSourceInstance(bytes: Uint8Array): SourceInstance {
  let dataset: NaturalDataset;
  try {
    const file = DicomMessage.readFile(asPart10(bytes), { untilTag: '7FE00010', includeUntilTagValue: false });
    dataset = DicomMetaDictionary.naturalizeDataset(file.dict);
  } catch {
    // The message of the reader names its internals, never anything a client needs.
    throw notReportable('its header cannot be read');
  }
  const context: NaturalDataset = {};
  for (const keyword of [...PATIENT_KEYWORDS, ...STUDY_KEYWORDS]) {
    const value = dataset[keyword];
    if (value !== undefined && value !== null && value !== '') context[keyword] = value;
    else if (!OPTIONAL.has(keyword)) context[keyword] = '';
  }
  return {
    sopClassUid: uidOf(dataset, 'SOPClassUID', 'SOP Class UID'),
    sopInstanceUid: uidOf(dataset, 'SOPInstanceUID', 'SOP Instance UID'),
    studyUid: uidOf(dataset, 'StudyInstanceUID', 'Study Instance UID'),
    seriesUid: uidOf(dataset, 'SeriesInstanceUID', 'Series Instance UID'),
    context,
  };
}
