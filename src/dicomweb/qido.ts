/** A QIDO-RS answer (DICOM JSON, PS3.18 F.2) read for what orders a series: each instance's UID, number, position. */
import { isUid } from './reference.ts';
import { isRecord } from '../records.ts';

export interface ListedInstance {
  uid: string;
  instanceNumber: number | undefined;
  /** Image Position (Patient), x y z in mm. */
  position: [number, number, number] | undefined;
}

/** A DICOM JSON answer's array of datasets, or undefined when the body is not a JSON array. */
function dicomJsonList(body: Buffer): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) ? parsed : undefined;
}

/**
 * The UIDs `tag` holds in each dataset of a DICOM JSON list, less those `skip` leaves out; undefined when it is not
 * such a list or a dataset lacks a valid UID.
 */
export function uidListing(body: Buffer, tag: string, skip?: (entry: Record<string, unknown>) => boolean): string[] | undefined {
  const list = dicomJsonList(body);
  if (list === undefined) return undefined;
  const uids: string[] = [];
  for (const entry of list) {
    const uid = isRecord(entry) ? values(entry, tag)?.[0] : undefined;
    if (!isUid(uid)) return undefined;
    if (skip?.(entry as Record<string, unknown>) !== true) uids.push(uid);
  }
  return uids;
}

function values(entry: Record<string, unknown>, tag: string): unknown[] | undefined {
  const element = entry[tag];
  return isRecord(element) && Array.isArray(element.Value) ? element.Value : undefined;
}

/** IS and DS come as JSON numbers, or as strings from some servers. */
function numeric(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

/** The listed instances, or undefined when the body is not a DICOM JSON array of instances with UIDs. */
export function seriesListing(body: Buffer): ListedInstance[] | undefined {
  const parsed = dicomJsonList(body);
  if (parsed === undefined) return undefined;
  const listed: ListedInstance[] = [];
  for (const entry of parsed) {
    if (!isRecord(entry)) return undefined;
    const uid = values(entry, '00080018')?.[0];
    if (!isUid(uid)) return undefined;
    const number = numeric(values(entry, '00200013')?.[0]);
    const position = values(entry, '00200032')?.map(numeric);
    listed.push({
      uid,
      instanceNumber: number !== undefined && Number.isInteger(number) ? number : undefined,
      position: position?.length === 3 && position.every((p) => p !== undefined) ? (position as [number, number, number]) : undefined,
    });
  }
  return listed;
}

/**
 * Modalities of series that hold no images (PS3.3 C.7.3.1.1.1): structured reports (the service's own SRs among
 * them), key objects, presentation states, documents, RT plans and structures, registrations, waveforms.
 */
const NON_IMAGE_MODALITIES = new Set(['SR', 'KO', 'PR', 'DOC', 'RTPLAN', 'RTSTRUCT', 'RTRECORD', 'REG', 'FID', 'ECG', 'HD', 'AU', 'PLAN']);

/**
 * The Series Instance UIDs of a study's QIDO-RS series answer, less the series whose Modality (0008,0060) holds no
 * images (a series listed without its modality is kept); undefined when it is not such a list.
 */
export function studySeriesListing(body: Buffer): string[] | undefined {
  return uidListing(body, '0020000E', (entry) => {
    const modality = values(entry, '00080060')?.[0];
    return typeof modality === 'string' && NON_IMAGE_MODALITIES.has(modality.trim().toUpperCase());
  });
}
