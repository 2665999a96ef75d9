/**
 * What orders an uploaded instance in its series, read from its header only (parsing stops before Pixel Data):
 * Instance Number, Image Position (Patient) and, for `include_uids`, the SOP Instance UID. A header that cannot
 * be read yields nothing here; the decoder then says what is wrong with the file.
 */
import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { isUid } from './reference.ts';
import type { OrderKey } from './series.ts';

const PREAMBLE_END = 132;
const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';

export interface UploadedOrder extends OrderKey {
  uid: string | undefined;
}

function hasPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= PREAMBLE_END && Buffer.from(bytes.buffer, bytes.byteOffset + 128, 4).toString('latin1') === 'DICM';
}

function parseHeader(bytes: Uint8Array): DataSet | undefined {
  try {
    // A data set without the Part 10 preamble is implicit VR little endian (as the decoder reads it).
    const options: dicomParser.ParseDicomOptions = {
      untilTag: 'x7fe00010',
      ...(hasPreamble(bytes) ? {} : { TransferSyntaxUID: IMPLICIT_LITTLE_ENDIAN }),
    };
    return dicomParser.parseDicom(bytes, options);
  } catch {
    return undefined;
  }
}

export function uploadedOrder(bytes: Uint8Array): UploadedOrder {
  const dataSet = parseHeader(bytes);
  if (dataSet === undefined) return { uid: undefined, instanceNumber: undefined, position: undefined };
  const number = Number(dataSet.string('x00200013'));
  const position = (dataSet.string('x00200032') ?? '').split('\\').map((v) => (v.trim() === '' ? NaN : Number(v)));
  const uid = dataSet.string('x00080018');
  return {
    uid: isUid(uid) ? uid : undefined,
    instanceNumber: Number.isInteger(number) && dataSet.string('x00200013') !== undefined ? number : undefined,
    position: position.length === 3 && position.every(Number.isFinite) ? (position as [number, number, number]) : undefined,
  };
}
