/**
 * The common JPEG's header read in JavaScript: a baseline, extended or progressive Huffman frame of 8-bit
 * samples, grey or three components, no Adobe marker. For such a file this says exactly what sharp's metadata
 * says about the fields the readers use (test/inputs/jpeg-header.test.ts compares them), without a sharp
 * instance (15 KB of JavaScript garbage) and a trip through the libuv pool per request, about 0.3 ms of CPU for a
 * 512 x 512 JPEG (docs/decisions.md, "The front end's garbage"). Anything else
 * (lossless, arithmetic, 12-bit, CMYK, a damaged or odd marker sequence) answers undefined, and the caller
 * asks sharp. Nothing here decides that a file is valid: sharp decodes it whole afterwards, with the same
 * checks as always.
 */
import type { Metadata } from 'sharp';

/** The header fields the readers use. */
export type HeaderMeta = Pick<Metadata, 'width' | 'height' | 'channels' | 'space' | 'depth' | 'hasAlpha' | 'pages' | 'bitsPerSample'>;

/** Frames read here: SOF0 baseline, SOF1 extended sequential, SOF2 progressive (all Huffman-coded). */
const HUFFMAN_FRAMES: ReadonlySet<number> = new Set([0xc0, 0xc1, 0xc2]);
/** Every other start-of-frame marker (lossless, hierarchical, arithmetic): left to sharp. */
const OTHER_FRAMES: ReadonlySet<number> = new Set([0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
const ADOBE = 0xee;
/** A file whose frame header comes later than this many segments is left to sharp: the walk stays a few steps. */
const MAX_SEGMENTS = 64;

/** The frame of a common JPEG, or undefined when sharp should read the header. */
export function readJpegHeader(bytes: Uint8Array): HeaderMeta | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  let at = 2;
  for (let segment = 0; segment < MAX_SEGMENTS; segment++) {
    if (at + 4 > bytes.length || bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    const length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    const body = at + 4;
    const next = at + 2 + length;
    // Standalone markers (fill, RSTn, TEM, SOI, EOI), the scan, and lengths that do not fit: not the common file.
    if (marker === 0xff || marker === 0x01 || (marker >= 0xd0 && marker <= 0xda) || length < 2 || next > bytes.length) return undefined;
    if (marker === ADOBE || OTHER_FRAMES.has(marker)) return undefined;
    if (HUFFMAN_FRAMES.has(marker)) {
      if (length < 8) return undefined;
      const precision = bytes[body]!;
      const height = (bytes[body + 1]! << 8) | bytes[body + 2]!;
      const width = (bytes[body + 3]! << 8) | bytes[body + 4]!;
      const components = bytes[body + 5]!;
      if (precision !== 8 || height === 0 || width === 0 || length !== 8 + 3 * components) return undefined;
      if (components === 3) return { width, height, channels: 3, space: 'srgb', depth: 'uchar', hasAlpha: false };
      if (components === 1) return { width, height, channels: 1, space: 'b-w', depth: 'uchar', hasAlpha: false };
      return undefined;
    }
    at = next;
  }
  return undefined;
}
