/** Pixel samples as stored, turned into numbers: byte order, Bits Stored, High Bit and sign applied. */
import type { ImageDescription } from './parse.ts';

/** Stored values in the narrowest array that holds them: 8 or 16 bits (signed or not), or doubles for 32-bit words. */
export type StoredSamples = Uint8Array | Int8Array | Uint16Array | Int16Array | Float64Array;

/** An empty array of the same kind as `samples`, `length` long. */
export function alike(samples: StoredSamples, length: number): StoredSamples {
  return new (samples.constructor as new (length: number) => StoredSamples)(length);
}

/** Stored values: masked to Bits Stored, shifted down from High Bit, sign-extended when Pixel Representation says so. */
export function storedValues(
  bytes: Uint8Array,
  bitsAllocated: number,
  bitsStored: number,
  highBit: number,
  signed: boolean,
): StoredSamples {
  const count = bytes.length / (bitsAllocated / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shift = highBit + 1 - bitsStored;
  const range = 2 ** bitsStored;
  const half = range / 2;
  if (bitsAllocated <= 16) {
    const narrow = bitsStored <= 8;
    const out = signed ? (narrow ? new Int8Array(count) : new Int16Array(count)) : narrow ? new Uint8Array(count) : new Uint16Array(count);
    const mask = range - 1;
    for (let i = 0; i < count; i++) {
      const v = ((bitsAllocated === 8 ? view.getUint8(i) : view.getUint16(2 * i, true)) >>> shift) & mask;
      out[i] = signed && v >= half ? v - range : v;
    }
    return out;
  }
  // 32-bit words: plain arithmetic, since bitwise operators would turn values of 2^31 and up negative.
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = Math.floor(view.getUint32(4 * i, true) / 2 ** shift) % range;
    out[i] = signed && v >= half ? v - range : v;
  }
  return out;
}

/** Big-endian native data is swapped to host order (in a copy); 8-bit samples in OW words are swapped pairwise too. */
export function hostOrder(d: ImageDescription): Uint8Array {
  if (d.encoding.kind !== 'native' || !d.encoding.bigEndian) return d.frameBytes;
  const copy = new Uint8Array(d.frameBytes);
  const word = d.bitsAllocated === 8 ? (d.pixelVr === 'OW' ? 2 : 1) : d.bitsAllocated / 8;
  if (word === 2) Buffer.from(copy.buffer).swap16();
  if (word === 4) Buffer.from(copy.buffer).swap32();
  return copy;
}
