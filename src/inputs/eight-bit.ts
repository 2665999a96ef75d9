/**
 * The reader for ordinary images: sharp at 8 bits, as the reference's `convert('RGB')` (grey expanded, alpha
 * dropped without compositing).
 */
import sharp from 'sharp';
import type { OutputInfo } from 'sharp';
import { sharpFailure, sharpOptions } from './header.ts';
import type { ImageHeader } from './header.ts';
import { bounded, imageTooLarge, type InputLimits } from './limits.ts';
import { onPrivateCopy } from './sharp-input.ts';
import type { ImageSource } from './types.ts';

/**
 * 8-bit images without alpha that are already RGB or grey need no conversion before the resize, so sharp can
 * decode, resize and crop in one pipeline and never hand the full-size decoded image to JavaScript (for a
 * 512x512 JPEG, 786 KB per request less to allocate and collect; bench/TUNING.md).
 */
export function decodesInOnePass(header: ImageHeader): boolean {
  const { meta, page } = header;
  if (page !== 0 || meta.hasAlpha || meta.depth !== 'uchar') return false;
  return (meta.channels === 3 && meta.space === 'srgb') || (meta.channels === 1 && meta.space === 'b-w');
}

function oneStep(bytes: Buffer, header: ImageHeader, limits: InputLimits): ImageSource {
  const { meta, format } = header;
  return {
    pixels: {
      kind: 'encoded',
      width: meta.width,
      height: meta.height,
      run: async (transform) => {
        // pipelineColourspace('srgb') makes grey RGB before the resize, as convert('RGB') does, and also turns off
        // JPEG shrink-on-load (which fastShrinkOnLoad: false still uses from a factor of 4), so no pixel differs.
        try {
          return await onPrivateCopy(bytes, (copy) =>
            transform(bounded(sharp(copy, sharpOptions(limits, 0)), limits).pipelineColourspace('srgb'))
              .toColourspace('srgb')
              .raw({ depth: 'uchar' })
              .toBuffer({ resolveWithObject: true }),
          );
        } catch (err) {
          sharpFailure(err, format);
        }
      },
    },
    record: { source: header.source },
  };
}

/**
 * Decodes the whole page to RGB before the transform, keeping the reference's order: resizing with alpha
 * present would premultiply it and change the colours of translucent pixels.
 */
async function twoStep(bytes: Buffer, header: ImageHeader, limits: InputLimits): Promise<ImageSource> {
  const { format, page, meta } = header;
  let rgb: Buffer;
  let info: OutputInfo;
  try {
    ({ data: rgb, info } = await onPrivateCopy(bytes, (copy) =>
      bounded(sharp(copy, sharpOptions(limits, page)), limits)
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true }),
    ));
  } catch (err) {
    sharpFailure(err, format);
  }
  // Pages of a TIFF may differ in size; page 0's are in `meta`.
  if (info.channels !== 3 || (page === 0 && (info.width !== meta.width || info.height !== meta.height))) {
    throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
  }
  if (info.width * info.height > limits.imagePixels) {
    throw imageTooLarge(`page ${page} is ${info.width}x${info.height} pixels, more than the ${limits.imagePixels} MAX_IMAGE_PIXELS allows`);
  }
  return {
    pixels: { kind: 'rgb', data: rgb, width: info.width, height: info.height },
    record: { source: { ...header.source, width: info.width, height: info.height } },
  };
}

/** An 8-bit PNG/JPEG/TIFF/WebP whose header has been read and checked. */
export function readEightBit(bytes: Buffer, header: ImageHeader, limits: InputLimits): Promise<ImageSource> {
  return decodesInOnePass(header) ? Promise.resolve(oneStep(bytes, header, limits)) : twoStep(bytes, header, limits);
}
