/**
 * The one way an image becomes model input, for requests and the golden check alike: sniff the bytes once,
 * read one header, hand the file to one of three readers — DICOM (rendered as a viewer would), PNG/TIFF with
 * samples wider than 8 bits (read at full depth and windowed), everything else (sharp at 8 bits, as the
 * reference) — and give what it read to the one model transform.
 */
import { undecodable, unsupportedMediaType } from '../errors.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import type { PixelDecoder } from './decoder/pixel-decoder.ts';
import { readDicom } from './dicom/reader.ts';
import { readEightBit } from './eight-bit.ts';
import { sniffImageFormat, SUPPORTED_IMAGE_FORMATS } from './format.ts';
import { readHeader } from './header.ts';
import type { InputLimits } from './limits.ts';
import { toModelInput } from './transform.ts';
import type { ImageOptions, ImageSource, ModelInput } from './types.ts';
import { readWide } from './wide.ts';

export type { ImageOptions, ModelInput } from './types.ts';

/** One image, and whether its sender declared it DICOM (the only way to know a data set without a preamble). */
export interface ImageInput {
  bytes: Buffer;
  declaredDicom?: boolean;
}

export interface DecodeDeps extends InputLimits {
  /**
   * The app's threads for DICOM and wide samples. Without one only 8-bit images decode: that is the golden check
   * at model load, whose images are 8-bit RGB PNGs by the model directory's contract (models/README.md).
   */
  decoder: PixelDecoder | undefined;
}

function needDecoder(deps: DecodeDeps, what: string): PixelDecoder {
  if (deps.decoder === undefined) throw new Error(`${what} needs the pixel decoder, which this caller does not have`);
  return deps.decoder;
}

async function read(input: ImageInput, deps: DecodeDeps, options: ImageOptions): Promise<ImageSource> {
  const { bytes } = input;
  const sniffed = sniffImageFormat(bytes);
  if (input.declaredDicom === true || sniffed.kind === 'dicom') return readDicom(bytes, options, needDecoder(deps, 'a DICOM object'), deps);
  if (sniffed.kind === 'unsupported') {
    throw unsupportedMediaType(`${sniffed.name} images are not supported; send ${SUPPORTED_IMAGE_FORMATS.join(', ')}`);
  }
  if (sniffed.kind === 'unknown') throw undecodable(`the content is not a decodable ${SUPPORTED_IMAGE_FORMATS.join(', ')} image`);
  const header = await readHeader(bytes, sniffed.format, options.page ?? 0, deps);
  const { wide } = header;
  if (wide !== undefined) return readWide(bytes, { ...header, wide }, needDecoder(deps, `a ${wide} ${sniffed.format} image`), deps);
  return readEightBit(bytes, header, deps);
}

/**
 * The tensor the image encoder takes, the S x S RGB view it was made from (what /preview shows) and the
 * preprocessing record. Errors are ServiceErrors thrown where they arise: 400 (frame, page, window), 413
 * (pixels over MAX_IMAGE_PIXELS, before decoding: `image_too_large`), 415 (format or transfer syntax not
 * supported), 422 (undecodable, or a decode that killed or hung its thread), 503 (decoder queue full or
 * shutting down).
 */
export async function decodeImage(input: ImageInput, spec: ImageTensorSpec, deps: DecodeDeps, options: ImageOptions = {}): Promise<ModelInput> {
  return toModelInput(await read(input, deps, options), spec, deps);
}
