import type { FeedTensor } from './protocol.ts';

/** Where feed builders get their buffers: a recycled one (arbitrary contents) or a new one, of at least `bytes`. */
export type AllocateBuffer = (bytes: number) => ArrayBuffer;

const allocateNew: AllocateBuffer = (bytes) => new ArrayBuffer(bytes);

export interface ImageFeedSpec {
  input: string;
  size: number;
}

export interface TextFeedSpec {
  inputIds: string;
  attentionMask: string;
  padId: number;
  contextLength: number;
}

/**
 * An image whose CHW float32 tensor is written straight into the batch when the batch is stacked, so that it
 * never has one of its own: a decoded image keeps its 8-bit view and normalizes into the batch buffer. A tensor
 * per image (600 KB at 224 x 224, garbage as soon as it was stacked) made most of the HTTP thread's garbage
 * collection work (docs/performance.md, "The front end's own limit").
 */
export interface StackableImage {
  /** Values it writes: 3 x S x S. */
  readonly length: number;
  writeTo(batch: Float32Array, offset: number): void;
}

/** One image's model input: a CHW float32 tensor (3 x S x S, normalized), given as is or written at stacking. */
export type ImagePixels = Float32Array | StackableImage;

/** The tensor itself, written out when it is a StackableImage. */
export function tensorOf(image: ImagePixels): Float32Array {
  if (image instanceof Float32Array) return image;
  const out = new Float32Array(image.length);
  image.writeTo(out, 0);
  return out;
}

/** Stacks per-image CHW tensors into one [n, 3, S, S] batch (the one copy on the way to the worker). */
export function imageFeeds(spec: ImageFeedSpec, images: ImagePixels[], allocate = allocateNew): FeedTensor[] {
  const plane = 3 * spec.size * spec.size;
  const length = images.length * plane;
  const data = new Float32Array(allocate(length * Float32Array.BYTES_PER_ELEMENT), 0, length);
  images.forEach((image, i) => {
    if (image.length !== plane) throw new Error(`image tensor has ${image.length} values, expected ${plane}`);
    if (image instanceof Float32Array) data.set(image, i * plane);
    else image.writeTo(data, i * plane);
  });
  return [{ name: spec.input, type: 'float32', data, dims: [images.length, 3, spec.size, spec.size] }];
}

/** Longest text of the batch rounded up to a multiple of 8: padding costs compute, never 256 when not needed. */
export function paddedLength(longest: number, contextLength: number): number {
  return Math.min(Math.max(8, Math.ceil(longest / 8) * 8), Math.max(contextLength, longest));
}

/** Pads token id lists to the batch's padded length: ids + `attention_mask` (1 for tokens, 0 for padding). */
export function textFeeds(spec: TextFeedSpec, texts: number[][], allocate = allocateNew): FeedTensor[] {
  const longest = texts.reduce((m, ids) => Math.max(m, ids.length), 0);
  const seq = paddedLength(longest, spec.contextLength);
  const length = texts.length * seq;
  const ids = new BigInt64Array(allocate(length * BigInt64Array.BYTES_PER_ELEMENT), 0, length).fill(BigInt(spec.padId));
  const mask = new BigInt64Array(allocate(length * BigInt64Array.BYTES_PER_ELEMENT), 0, length).fill(0n);
  texts.forEach((text, row) => {
    for (let j = 0; j < text.length; j++) {
      ids[row * seq + j] = BigInt(text[j]!);
      mask[row * seq + j] = 1n;
    }
  });
  const dims = [texts.length, seq];
  return [
    { name: spec.inputIds, type: 'int64', data: ids, dims },
    { name: spec.attentionMask, type: 'int64', data: mask, dims },
  ];
}
