/**
 * The model's evaluation transform, exactly as the reference applies it (models/README.md "Image transform"):
 * shorter side to S with bicubic, centre S x S crop, /255, mean/std, CHW float32. Every reader ends here, so
 * DICOM, wide samples and ordinary images differ only in how they became 8-bit RGB. As in open_clip, the
 * transform knows nothing of models beyond their tensor spec.
 */
import sharp from 'sharp';
import type { TransformPreprocessing } from '../api-types.ts';
import type { StackableImage } from '../engine/feeds.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import { bounded, imageTooLarge, type InputLimits } from './limits.ts';
import type { EncodedPixels, ImageSource, ModelInput, RgbPixels } from './types.ts';

/** Python's round(): halves go to the even neighbour, as torchvision's centre crop computes its offsets. */
export function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * torchvision `Resize(S)` + `CenterCrop(S)` geometry: the shorter side becomes S, the longer one
 * `int(S * long / short)` (truncated); no resize when the shorter side already equals S.
 */
export function transformGeometry(width: number, height: number, size: number): TransformPreprocessing {
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  let resize: { width: number; height: number } | null = null;
  let w = width;
  let h = height;
  if (short !== size) {
    const newLong = Math.floor((size * long) / short);
    [w, h] = width <= height ? [size, newLong] : [newLong, size];
    resize = { width: w, height: h };
  }
  const top = roundHalfEven((h - size) / 2);
  const left = roundHalfEven((w - size) / 2);
  return { resize, crop: { left, top, width: size, height: size }, size };
}

/** Bytes the transform holds for a width x height image beyond its input: the resized image, the crop, the tensor. */
export function transformBytes(width: number, height: number, size: number): number {
  const { resize } = transformGeometry(width, height, size);
  return (resize === null ? 0 : resize.width * resize.height * 3) + size * size * (3 + 3 * 4);
}

/** Bicubic as PIL Image.BICUBIC, without JPEG shrink-on-load (which shifts pixels). */
const RESIZE = { kernel: 'cubic', fit: 'fill', fastShrinkOnLoad: false } as const;

/**
 * The whole image is resized before the crop (as the reference does), so a thin strip (1 x 100000) would grow
 * to gigabytes: the resized image is held to the same pixel limit as a decoded one.
 */
export function checkResizeLimit(width: number, height: number, transform: TransformPreprocessing, limits: InputLimits): void {
  if (transform.resize === null || transform.resize.width * transform.resize.height <= limits.imagePixels) return;
  throw imageTooLarge(
    `resizing this ${width}x${height} image so that its shorter side is ${transform.size} would make ${transform.resize.width}x${transform.resize.height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`,
  );
}

/** Copies the crop box out of an interleaved RGB buffer `width` pixels wide. */
function cropRgb(rgb: Buffer, width: number, crop: TransformPreprocessing['crop']): Buffer {
  const out = Buffer.allocUnsafe(crop.width * crop.height * 3);
  const rowBytes = crop.width * 3;
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.top + y) * width + crop.left) * 3;
    rgb.copy(out, y * rowBytes, from, from + rowBytes);
  }
  return out;
}

async function resizeRgb(pixels: RgbPixels, transform: TransformPreprocessing, limits: InputLimits): Promise<Buffer> {
  const { data, width, height } = pixels;
  if (transform.resize === null) return cropRgb(data, width, transform.crop);
  // Resized to a buffer, then cropped: one raw-input pipeline would fold the crop into the resize.
  const resized = await bounded(sharp(data, { raw: { width, height, channels: 3 }, limitInputPixels: false }), limits)
    .resize(transform.resize.width, transform.resize.height, RESIZE)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (resized.info.width !== transform.resize.width || resized.info.height !== transform.resize.height) {
    throw new Error(
      `resize produced ${resized.info.width}x${resized.info.height}, wanted ${transform.resize.width}x${transform.resize.height}`,
    );
  }
  return cropRgb(resized.data, transform.resize.width, transform.crop);
}

async function resizeEncoded(pixels: EncodedPixels, transform: TransformPreprocessing): Promise<Buffer> {
  const { data, info } = await pixels.run((pipeline) => {
    const resized = transform.resize === null ? pipeline : pipeline.resize(transform.resize.width, transform.resize.height, RESIZE);
    return resized.extract(transform.crop);
  });
  if (info.width !== transform.size || info.height !== transform.size || info.channels !== 3) {
    throw new Error(`unexpected view layout ${info.width}x${info.height}x${info.channels}`);
  }
  return data;
}

/**
 * Shorter side to S with bicubic and the centre S x S crop: the view the model sees before normalization.
 * Decoded RGB is resized by sharp and cropped here; an encoded file is decoded, resized and cropped in one sharp
 * pipeline, which gives the same bytes (test/inputs/decode.test.ts compares the two).
 */
export async function resizeAndCrop(
  pixels: RgbPixels | EncodedPixels,
  size: number,
  limits: InputLimits,
): Promise<{ view: Buffer; transform: TransformPreprocessing }> {
  const transform = transformGeometry(pixels.width, pixels.height, size);
  checkResizeLimit(pixels.width, pixels.height, transform, limits);
  const view = pixels.kind === 'rgb' ? await resizeRgb(pixels, transform, limits) : await resizeEncoded(pixels, transform);
  return { view, transform };
}

/** Per tensor spec (a model's, for its life), the 256-entry lookup table of each channel: built once, not per image. */
const TABLES = new WeakMap<ImageTensorSpec, [Float32Array, Float32Array, Float32Array]>();

function lookupTables(spec: ImageTensorSpec): [Float32Array, Float32Array, Float32Array] {
  let tables = TABLES.get(spec);
  if (tables === undefined) {
    tables = [0, 1, 2].map((c) => {
      const mean = Math.fround(spec.mean[c] ?? 0);
      const std = Math.fround(spec.std[c] ?? 1);
      const table = new Float32Array(256);
      for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(v / 255) - mean) / std;
      return table;
    }) as [Float32Array, Float32Array, Float32Array];
    TABLES.set(spec, tables);
  }
  return tables;
}

/**
 * HWC uint8 -> CHW float32 into `out` from `offset`, `(x / 255 - mean) / std` with every step rounded to float32
 * as numpy does it in the reference (float32 arrays, float32 mean/std), so the tensor matches bit for bit.
 */
function normalizeInto(rgb: Buffer, size: number, spec: ImageTensorSpec, out: Float32Array, offset: number): void {
  const plane = size * size;
  // 256 possible inputs per channel: a lookup table makes the per-sample work one load.
  const [t0, t1, t2] = lookupTables(spec);
  const r = out.subarray(offset, offset + plane);
  const g = out.subarray(offset + plane, offset + 2 * plane);
  const b = out.subarray(offset + 2 * plane, offset + 3 * plane);
  // One pass over the interleaved pixels, three planes written: 20% less than a pass per channel.
  for (let i = 0, j = 0; i < plane; i++, j += 3) {
    r[i] = t0[rgb[j]!]!;
    g[i] = t1[rgb[j + 1]!]!;
    b[i] = t2[rgb[j + 2]!]!;
  }
}

/** normalizeInto a tensor of its own. */
export function normalizeToChw(rgb: Buffer, size: number, spec: ImageTensorSpec): Float32Array {
  const out = new Float32Array(3 * size * size);
  normalizeInto(rgb, size, spec, out, 0);
  return out;
}

/** The S x S view, normalized only when its batch is stacked (StackableImage). */
class NormalizedView implements StackableImage {
  readonly length: number;
  readonly #view: Buffer;
  readonly #size: number;
  readonly #spec: ImageTensorSpec;

  constructor(view: Buffer, size: number, spec: ImageTensorSpec) {
    this.#view = view;
    this.#size = size;
    this.#spec = spec;
    this.length = 3 * size * size;
  }

  writeTo(batch: Float32Array, offset: number): void {
    normalizeInto(this.#view, this.#size, this.#spec, batch, offset);
  }
}

/** The whole transform for one image from any reader: the tensor, the view, and the record completed. */
export async function toModelInput(source: ImageSource, spec: ImageTensorSpec, limits: InputLimits): Promise<ModelInput> {
  const { view, transform } = await resizeAndCrop(source.pixels, spec.size, limits);
  return { pixels: new NormalizedView(view, spec.size, spec), view, preprocessing: { ...source.record, transform } };
}
