/**
 * The one way an image becomes model input, for requests and the golden check alike: sniff the bytes once,
 * read one header, hand the file to one of three readers — DICOM (rendered as a viewer would), PNG/TIFF with
 * samples wider than 8 bits (read at full depth and windowed), everything else (sharp at 8 bits, as the
 * reference) — and give what it read to the one model transform.
 */
import type { Cancellation } from '../engine/request-group.ts';
import { undecodable, unsupportedMediaType } from '../errors.ts';
import type { ImageTensorSpec } from '../models/types.ts';
import type { PixelDecoder } from './decoder/pixel-decoder.ts';
import { readDicom, renderOptions } from './dicom/reader.ts';
import { readEightBit } from './eight-bit.ts';
import { sniffImageFormat, SUPPORTED_IMAGE_FORMATS } from './format.ts';
import { readHeader } from './header.ts';
import { decodedSampleBytes, readerBytes } from './image-cost.ts';
import { checkDecompression, imageTooLarge, type InputLimits } from './limits.ts';
import type { MemoryBudget } from './memory-budget.ts';
import { checkResizeLimit, toModelInput, transformBytes, transformGeometry } from './transform.ts';
import type { ImageOptions, ImageSource, ModelInput } from './types.ts';
import { privateCopyBytes } from './sharp-input.ts';
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
  /** The process-wide decode budget each image reserves from; absent for the golden check at load. */
  memory?: MemoryBudget;
  /** The request's client and deadline: a decode still waiting (for memory or a thread) is dropped when they go. */
  cancellation?: Cancellation;
}

/** What decoding an image will take, known from its header, and the decode itself, not yet started. */
interface DecodePlan {
  /** Worst-case bytes the reader holds. */
  bytes: number;
  width: number;
  height: number;
  read: () => Promise<ImageSource>;
}

function needDecoder(deps: DecodeDeps, what: string): PixelDecoder {
  if (deps.decoder === undefined) throw new Error(`${what} needs the pixel decoder, which this caller does not have`);
  return deps.decoder;
}

async function plan(input: ImageInput, deps: DecodeDeps, options: ImageOptions): Promise<DecodePlan> {
  const { bytes } = input;
  const { cancellation } = deps;
  const sniffed = sniffImageFormat(bytes);
  if (input.declaredDicom === true || sniffed.kind === 'dicom') {
    const decoder = needDecoder(deps, 'a DICOM object');
    const cost = await decoder.dicomCost(bytes, renderOptions(options), deps, cancellation);
    return { ...cost, read: () => readDicom(bytes, options, decoder, deps, cancellation) };
  }
  if (sniffed.kind === 'unsupported') {
    throw unsupportedMediaType(`${sniffed.name} images are not supported; send ${SUPPORTED_IMAGE_FORMATS.join(', ')}`);
  }
  if (sniffed.kind === 'unknown') throw undecodable(`the content is not a decodable ${SUPPORTED_IMAGE_FORMATS.join(', ')} image`);
  const header = await readHeader(bytes, sniffed.format, options.page ?? 0, deps);
  const { width, height } = header.pageSize;
  const what = `${width}x${height} ${sniffed.format.toUpperCase()} image`;
  checkDecompression(
    { decodedBytes: decodedSampleBytes(header), sentBytes: bytes.length, jpeg: sniffed.format === 'jpeg', what },
    deps.decompression,
  );
  const { wide } = header;
  const read =
    wide === undefined
      ? () => readEightBit(bytes, header, deps)
      : () => readWide(bytes, { ...header, wide }, needDecoder(deps, `a ${wide} ${sniffed.format} image`), deps, cancellation);
  // sharp decodes a private copy of the file (src/inputs/sharp-input.ts), held beside the decode.
  return { bytes: readerBytes(header) + privateCopyBytes(bytes.length), ...header.pageSize, read };
}

/**
 * The tensor the image encoder takes, the S x S RGB view it was made from (what /preview shows) and the
 * preprocessing record. The header is read first; the decode's worst-case bytes are then reserved from the
 * memory budget (waiting in line while it is full) and given back when the decode ends, however it ends.
 * Errors are ServiceErrors thrown where they arise: 400 (frame, page, window), 413 (pixels over
 * MAX_IMAGE_PIXELS or bytes over MAX_IMAGE_BYTES, before decoding: `image_too_large`), 415 (format or transfer
 * syntax not supported), 422 (undecodable, a codestream whose size contradicts the header, or a decode that
 * killed or hung its thread), 503 (decoder queue full, memory budget busy, shutting down); DeadlineExceededError
 * and CancelledError while waiting.
 */
export async function decodeImage(
  input: ImageInput,
  spec: ImageTensorSpec,
  deps: DecodeDeps,
  options: ImageOptions = {},
): Promise<ModelInput> {
  const { bytes, width, height, read } = await plan(input, deps, options);
  // The pixel limit on the resized image first: its message says what is wrong with the image's shape.
  checkResizeLimit(width, height, transformGeometry(width, height, spec.size), deps);
  const cost = bytes + transformBytes(width, height, spec.size);
  if (deps.imageBytes !== undefined && cost > deps.imageBytes) {
    throw imageTooLarge(
      `decoding this ${width}x${height} image needs up to ${cost} bytes, more than the ${deps.imageBytes} MAX_IMAGE_BYTES allows`,
    );
  }
  const reservation = await deps.memory?.reserve(cost, deps.cancellation);
  try {
    return await toModelInput(await read(), spec, deps);
  } finally {
    reservation?.release();
  }
}
