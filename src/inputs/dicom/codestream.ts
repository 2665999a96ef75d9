/**
 * The size a compressed frame declares in its own header (JPEG and JPEG-LS start of frame, JPEG 2000 and HTJ2K
 * SIZ), checked against Rows and Columns before a codec runs: the memory reserved for the frame was computed from
 * Rows and Columns, so a codestream that says otherwise (a decompression bomb behind a small header) never
 * reaches the codec.
 */
import { undecodable } from '../../errors.ts';
import type { ImageDescription } from './parse.ts';

interface Size {
  width: number;
  /** 0 when a JPEG leaves the height to a DNL marker after the first scan. */
  height: number;
}

const SOI = 0xd8;
const SOS = 0xda;
/** JPEG-LS start of frame (ISO/IEC 14495-1). */
const SOF55 = 0xf7;

function u16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}

function u32(bytes: Uint8Array, at: number): number {
  return u16(bytes, at) * 65536 + u16(bytes, at + 2);
}

/** SOF0..SOF15 less DHT (C4), JPG (C8) and DAC (CC), which share the range but are not frame headers. */
function isStartOfFrame(marker: number): boolean {
  return (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === SOF55;
}

/** The frame header of a JPEG or JPEG-LS stream: the marker segments are walked up to the first start of frame. */
export function jpegFrameSize(bytes: Uint8Array): Size | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) return undefined;
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    // Fill bytes, and markers that stand alone without a length (RSTn, TEM).
    if (marker === 0xff) {
      at += 1;
      continue;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      at += 2;
      continue;
    }
    if (isStartOfFrame(marker)) return at + 9 <= bytes.length ? { height: u16(bytes, at + 5), width: u16(bytes, at + 7) } : undefined;
    if (marker === SOS) return undefined;
    at += 2 + u16(bytes, at + 2);
  }
  return undefined;
}

/** The image area of a JPEG 2000 or HTJ2K codestream: SOC, then SIZ with Xsiz, Ysiz and the origin XOsiz, YOsiz. */
export function j2kImageSize(bytes: Uint8Array): Size | undefined {
  if (bytes.length < 24 || u16(bytes, 0) !== 0xff4f || u16(bytes, 2) !== 0xff51) return undefined;
  return { width: u32(bytes, 8) - u32(bytes, 16), height: u32(bytes, 12) - u32(bytes, 20) };
}

/**
 * Throws 422 `dimension_mismatch` when the frame's codestream declares another size than Rows x Columns. A
 * stream whose header cannot be found is left to the codec, which refuses it (422 undecodable).
 */
export function checkCodestream(d: ImageDescription): void {
  if (d.encoding.kind !== 'encapsulated') return;
  const { codec } = d.encoding;
  let size: Size | undefined;
  if (codec === 'jpeg' || codec === 'jpeg-ls') size = jpegFrameSize(d.frameBytes);
  else if (codec === 'jpeg2000' || codec === 'htj2k') size = j2kImageSize(d.frameBytes);
  if (size === undefined) return;
  if (size.width !== d.columns || (size.height !== 0 && size.height !== d.rows)) {
    throw undecodable(
      `DICOM ${codec} codestream is ${size.width}x${size.height} pixels but Rows x Columns say ${d.columns}x${d.rows}; not decoded`,
      'dimension_mismatch',
    );
  }
}
