import { unsupportedMediaType } from '../../errors.ts';

/** How the pixel data of a transfer syntax is stored, and which codec (if any) decodes a frame of it. */
export type PixelEncoding =
  { kind: 'native'; bigEndian: boolean } | { kind: 'encapsulated'; codec: 'rle' | 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' };

interface SyntaxEntry {
  name: string;
  encoding: PixelEncoding;
  deflated?: boolean;
}

const native = (bigEndian = false): PixelEncoding => ({ kind: 'native', bigEndian });
const enc = (codec: 'rle' | 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k'): PixelEncoding => ({ kind: 'encapsulated', codec });

export const SUPPORTED_TRANSFER_SYNTAXES: Readonly<Record<string, SyntaxEntry>> = {
  '1.2.840.10008.1.2': { name: 'Implicit VR Little Endian', encoding: native() },
  '1.2.840.10008.1.2.1': { name: 'Explicit VR Little Endian', encoding: native() },
  '1.2.840.10008.1.2.1.99': { name: 'Deflated Explicit VR Little Endian', encoding: native(), deflated: true },
  '1.2.840.10008.1.2.2': { name: 'Explicit VR Big Endian', encoding: native(true) },
  '1.2.840.10008.1.2.5': { name: 'RLE Lossless', encoding: enc('rle') },
  '1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', encoding: enc('jpeg') },
  '1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4)', encoding: enc('jpeg') },
  '1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless (Process 14)', encoding: enc('jpeg') },
  '1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless (Process 14, SV1)', encoding: enc('jpeg') },
  '1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', encoding: enc('jpeg-ls') },
  '1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Near-Lossless', encoding: enc('jpeg-ls') },
  '1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Lossless', encoding: enc('jpeg2000') },
  '1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', encoding: enc('jpeg2000') },
  '1.2.840.10008.1.2.4.201': { name: 'HTJ2K Lossless', encoding: enc('htj2k') },
  '1.2.840.10008.1.2.4.202': { name: 'HTJ2K Lossless RPCL', encoding: enc('htj2k') },
  '1.2.840.10008.1.2.4.203': { name: 'HTJ2K', encoding: enc('htj2k') },
};

/** Video syntaxes: a stream, not frames an image model can take; named so the 415 says what was sent. */
const VIDEO: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile @ Main Level',
  '1.2.840.10008.1.2.4.100.1': 'Fragmentable MPEG2 Main Profile @ Main Level',
  '1.2.840.10008.1.2.4.101': 'MPEG2 Main Profile @ High Level',
  '1.2.840.10008.1.2.4.101.1': 'Fragmentable MPEG2 Main Profile @ High Level',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264 High Profile',
  '1.2.840.10008.1.2.4.102.1': 'Fragmentable MPEG-4 AVC/H.264 High Profile',
  '1.2.840.10008.1.2.4.103': 'MPEG-4 AVC/H.264 BD-compatible High Profile',
  '1.2.840.10008.1.2.4.103.1': 'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile',
  '1.2.840.10008.1.2.4.104': 'MPEG-4 AVC/H.264 High Profile For 2D Video',
  '1.2.840.10008.1.2.4.104.1': 'Fragmentable MPEG-4 AVC/H.264 High Profile For 2D Video',
  '1.2.840.10008.1.2.4.105': 'MPEG-4 AVC/H.264 High Profile For 3D Video',
  '1.2.840.10008.1.2.4.105.1': 'Fragmentable MPEG-4 AVC/H.264 High Profile For 3D Video',
  '1.2.840.10008.1.2.4.106': 'MPEG-4 AVC/H.264 Stereo High Profile',
  '1.2.840.10008.1.2.4.106.1': 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile',
  '1.2.840.10008.1.2.4.107': 'HEVC/H.265 Main Profile',
  '1.2.840.10008.1.2.4.108': 'HEVC/H.265 Main 10 Profile',
};

/** The entry for a transfer syntax, or a 415 that names it (video, or anything else this service cannot decode). */
export function transferSyntax(uid: string): SyntaxEntry {
  // Own properties only: a UID from the file such as "__proto__" or "constructor" must not find Object's members.
  const entry = Object.hasOwn(SUPPORTED_TRANSFER_SYNTAXES, uid) ? SUPPORTED_TRANSFER_SYNTAXES[uid] : undefined;
  if (entry) return entry;
  const video = Object.hasOwn(VIDEO, uid) ? VIDEO[uid] : undefined;
  if (video) {
    throw unsupportedMediaType(`DICOM transfer syntax ${uid} (${video}) is video, which this service does not decode`);
  }
  throw unsupportedMediaType(
    `DICOM transfer syntax ${uid} is not supported; supported: ${Object.entries(SUPPORTED_TRANSFER_SYNTAXES)
      .map(([u, e]) => `${e.name} (${u})`)
      .join(', ')}`,
  );
}
