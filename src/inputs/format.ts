/** The image formats sharp decodes for the service (the API's image/png, image/jpeg, image/tiff, image/webp); DICOM has its own reader. */
export const SUPPORTED_IMAGE_FORMATS = ['png', 'jpeg', 'tiff', 'webp'] as const;
export type SupportedImageFormat = (typeof SUPPORTED_IMAGE_FORMATS)[number];

/** Media types accepted as a raw request body, and the format each names. */
export const IMAGE_MEDIA_TYPES: Readonly<Record<string, SupportedImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/tiff': 'tiff',
  'image/webp': 'webp',
};

export type SniffResult =
  { kind: 'supported'; format: SupportedImageFormat } | { kind: 'dicom' } | { kind: 'unsupported'; name: string } | { kind: 'unknown' };

function startsWith(bytes: Buffer, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((b, i) => bytes[offset + i] === b);
}

function ascii(bytes: Buffer, offset: number, length: number): string {
  return bytes.length < offset + length ? '' : bytes.toString('latin1', offset, offset + length);
}

/** A DICOM Part 10 file: 'DICM' after the 128-byte preamble. A bare data set has no signature at all. */
export function hasPart10Preamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * Tells the format from the file's signature, not from a declared media type (callers mislabel files, and JSON
 * base64 images have none). Recognising the common formats the service refuses lets it answer 415 ("wrong
 * kind of file") rather than 422 ("damaged file").
 */
export function sniffImageFormat(bytes: Buffer): SniffResult {
  // First: the preamble is free-form, so it may hold any other format's signature (a TIFF, say, for dual-format files).
  if (hasPart10Preamble(bytes)) return { kind: 'dicom' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return { kind: 'supported', format: 'png' };
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'supported', format: 'jpeg' };
  if (
    startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]) ||
    startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) ||
    startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])
  ) {
    return { kind: 'supported', format: 'tiff' };
  }
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return { kind: 'supported', format: 'webp' };

  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return { kind: 'unsupported', name: 'GIF' };
  if (ascii(bytes, 0, 2) === 'BM') return { kind: 'unsupported', name: 'BMP' };
  if (ascii(bytes, 0, 5) === '%PDF-') return { kind: 'unsupported', name: 'PDF' };
  if (ascii(bytes, 0, 4) === '8BPS') return { kind: 'unsupported', name: 'PSD' };
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00])) return { kind: 'unsupported', name: 'ICO' };
  if (startsWith(bytes, [0x76, 0x2f, 0x31, 0x01])) return { kind: 'unsupported', name: 'OpenEXR' };
  if (startsWith(bytes, [0xff, 0x0a]) || ascii(bytes, 4, 8) === 'JXL \r\n\x87\n') return { kind: 'unsupported', name: 'JPEG XL' };
  if (startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) || startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])) {
    return { kind: 'unsupported', name: 'JPEG 2000' };
  }
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4);
    return { kind: 'unsupported', name: brand.startsWith('avi') ? 'AVIF' : 'HEIF' };
  }
  const head = bytes.toString('latin1', 0, Math.min(bytes.length, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return { kind: 'unsupported', name: 'SVG' };
  return { kind: 'unknown' };
}
