/**
 * A classification as a DICOM Comprehensive SR (docs/pacs.md "DICOM SR answers"), written with dcmjs: the Patient
 * and General Study modules copied from the evaluated instances (the SR files under their study), SR Document
 * Series and General Equipment of this service, SR Document General with the evaluated instances as Current
 * Requested Procedure Evidence, the content tree of content.ts, and SOP Common. UIDs derived (uids.ts); Content
 * Date and Time are when the report was made, the only part of the bytes that differs between two runs of one
 * evaluation.
 */
import { ServiceError } from '../errors.ts';
import { contentTree, type EvaluatedInstance, type ReportContent } from './content.ts';
import { PRIVATE_SCHEME } from './codes.ts';
import { DicomDict, DicomMetaDictionary } from './dcmjs.ts';
import { derivedUid, reportUids, type EvaluationKey, type ReportUids } from './uids.ts';

export const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
const EXPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** This service's implementation as Part 10 names it (derived once, fixed). */
const IMPLEMENTATION_CLASS_UID = derivedUid('implementation', 'unimed-serve');
const SERIES_NUMBER = '9901';

export interface ReportInput extends ReportContent {
  /** What determined the classes, for the UIDs: a prompt set, or the inline labels and templates. */
  classes: EvaluationKey['classes'];
  rendering?: Record<string, unknown>;
  serviceVersion: string;
  /** When the report is made: Content Date and Time (UTC). */
  createdAt: Date;
}

function dateTime(at: Date): { date: string; time: string } {
  const iso = at.toISOString(); // 2025-01-31T12:34:56.789Z
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: `${iso.slice(11, 19).replace(/:/g, '')}.${iso.slice(20, 23)}` };
}

/** The one study of the evaluated instances (an SR files under one study). */
function studyOf(instances: readonly EvaluatedInstance[]): string {
  const studies = new Set(instances.map((i) => i.source.studyUid));
  const [study] = studies;
  if (study === undefined) throw new Error('a classification report needs at least one evaluated instance');
  if (studies.size > 1)
    throw new ServiceError('not_acceptable', 'the instances belong to several studies: one DICOM SR files under one study');
  return study;
}

/** Current Requested Procedure Evidence: the evaluated instances by series (PS3.3 C.17.2.3, hierarchical SOP references). */
function evidence(study: string, instances: readonly EvaluatedInstance[]): Record<string, unknown>[] {
  const bySeries = new Map<string, Record<string, string>[]>();
  const seen = new Set<string>();
  for (const { source } of instances) {
    if (seen.has(source.sopInstanceUid)) continue;
    seen.add(source.sopInstanceUid);
    const list = bySeries.get(source.seriesUid) ?? [];
    list.push({ ReferencedSOPClassUID: source.sopClassUid, ReferencedSOPInstanceUID: source.sopInstanceUid });
    bySeries.set(source.seriesUid, list);
  }
  const series = [...bySeries].map(([uid, sops]) => ({ SeriesInstanceUID: uid, ReferencedSOPSequence: sops }));
  return [{ StudyInstanceUID: study, ReferencedSeriesSequence: series }];
}

/** The SR as Part 10 bytes (explicit VR little endian). */
/** The SR's UIDs: what the report of `input` will carry (uids.ts: derived from everything that determines it). */
export function classificationReportUids(input: ReportInput): ReportUids {
  const key: EvaluationKey = {
    instances: input.instances.map(({ source, frame }) => ({ uid: source.sopInstanceUid, ...(frame === undefined ? {} : { frame }) })),
    modelSha256: input.model.sha256,
    classes: input.classes,
    rendering: input.rendering,
    calibrationId: input.calibrationId,
    policy: input.policy,
    coverage: input.coverage,
  };
  return reportUids(studyOf(input.instances), key);
}

export function classificationReport(input: ReportInput): Buffer {
  const uids = classificationReportUids(input);
  const study = uids.study;
  const { date, time } = dateTime(input.createdAt);
  const first = input.instances[0]!.source;
  const dataset = {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: uids.instance,
    CodingSchemeIdentificationSequence: [
      {
        CodingSchemeDesignator: PRIVATE_SCHEME,
        CodingSchemeName: 'unimed-serve labels and prompt sets',
        CodingSchemeResponsibleOrganization: 'unimed-serve',
      },
    ],
    TimezoneOffsetFromUTC: '+0000',
    ...first.context,
    StudyInstanceUID: study,
    Modality: 'SR',
    SeriesInstanceUID: uids.series,
    SeriesNumber: SERIES_NUMBER,
    SeriesDescription: 'unimed-serve classification (research aid)',
    ReferencedPerformedProcedureStepSequence: [],
    Manufacturer: 'unimed-serve',
    SoftwareVersions: input.serviceVersion,
    InstanceNumber: '1',
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: date,
    ContentTime: time,
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidence(study, input.instances),
    ...contentTree(input, uids),
  };
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: COMPREHENSIVE_SR,
    MediaStorageSOPInstanceUID: uids.instance,
    TransferSyntaxUID: EXPLICIT_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: `UNIMED_${input.serviceVersion}`.slice(0, 16),
  };
  const file = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  file.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return Buffer.from(file.write());
}
