import { createRequire } from 'node:module';
import type * as DcmjsCodecs from 'dcmjs-codecs';
import { ServiceError, undecodable } from '../../errors.ts';
import { checkCodestream } from './codestream.ts';
import type { ImageDescription } from './parse.ts';
import { type PixelEncoding, SUPPORTED_TRANSFER_SYNTAXES } from './transfer-syntax.ts';

type EncapsulatedCodec = Extract<PixelEncoding, { kind: 'encapsulated' }>['codec'];

// dcmjs-codecs is a CommonJS bundle around one WebAssembly module (IJG libjpeg 8/12/16-bit, CharLS, OpenJPEG,
// OpenJPH and an RLE decoder); only the pixel decoder threads load it (when they start), never the HTTP thread.
const require = createRequire(import.meta.url);
let codecs: typeof DcmjsCodecs | undefined;
let ready: Promise<typeof DcmjsCodecs> | undefined;

export function loadCodecs(): Promise<typeof DcmjsCodecs> {
  ready ??= (async () => {
    const module = require('dcmjs-codecs') as typeof DcmjsCodecs;
    // Codec chatter would go to stdout without the service's logger; errors surface as exceptions instead.
    module.log.setLevel('silent');
    await module.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
    codecs = module;
    return module;
  })();
  return ready;
}

function resetCodecs(): void {
  try {
    codecs?.NativeCodecs.release();
  } finally {
    codecs = undefined;
    ready = undefined;
  }
}

export interface DecodedFrame {
  /** Samples in host (little endian) order, interleaved unless planarConfiguration says otherwise. */
  bytes: Uint8Array;
  photometric: string;
  planarConfiguration: number;
}

const CODESTREAM: Readonly<Record<EncapsulatedCodec, string>> = {
  rle: 'RLE',
  jpeg: 'JPEG',
  'jpeg-ls': 'JPEG-LS',
  jpeg2000: 'JPEG 2000',
  htj2k: 'HTJ2K',
};

/**
 * A frame the codec could not decode, said in the service's terms: the frame, its codestream and transfer syntax.
 * The codec's own text (its function names, `Jpeg2000Buffer::OpjMessageCallbackError::...`) is not the client's
 * business: it is kept as the cause, which the decoder logs at debug (decoder/pixel-decoder.ts).
 */
function corruptFrame(d: ImageDescription, codec: EncapsulatedCodec, cause?: unknown): ServiceError {
  const uid = d.transferSyntaxUid;
  const syntax = Object.hasOwn(SUPPORTED_TRANSFER_SYNTAXES, uid) ? SUPPORTED_TRANSFER_SYNTAXES[uid]?.name : undefined;
  const named = syntax === undefined ? uid : `${uid}, ${syntax}`;
  const message = `DICOM frame ${d.frame} could not be decoded: the ${CODESTREAM[codec]} codestream is corrupt or truncated (transfer syntax ${named})`;
  return new ServiceError('undecodable', message, cause === undefined ? undefined : { cause });
}

/** Decodes one encapsulated frame. Codec output is checked for size: a short buffer is a corrupt stream. */
export function decodeFrame(d: ImageDescription): DecodedFrame {
  if (d.encoding.kind !== 'encapsulated') throw new Error('decodeFrame called for native pixel data');
  if (!codecs) throw new Error('codecs not loaded: await loadCodecs() first');
  checkCodestream(d);
  const { Context, NativeCodecs } = codecs;
  const context = new Context({
    width: d.columns,
    height: d.rows,
    bitsAllocated: d.bitsAllocated,
    bitsStored: d.bitsStored,
    samplesPerPixel: d.samplesPerPixel,
    pixelRepresentation: d.signed ? 1 : 0,
    planarConfiguration: d.planarConfiguration,
    photometricInterpretation: d.photometric,
    encodedBuffer: d.frameBytes,
  });
  let out;
  try {
    switch (d.encoding.codec) {
      case 'rle':
        out = NativeCodecs.decodeRle(context);
        break;
      case 'jpeg':
        out = NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: true });
        break;
      case 'jpeg-ls':
        out = NativeCodecs.decodeJpegLs(context);
        break;
      case 'jpeg2000':
        out = NativeCodecs.decodeJpeg2000(context);
        break;
      case 'htj2k':
        out = NativeCodecs.decodeHtJpeg2000(context);
        break;
    }
  } catch (error) {
    // A trap can leave the module's heap half-used: start from a fresh instance for the next frame.
    if (error instanceof Error && error.name === 'RuntimeError') resetCodecs();
    throw corruptFrame(d, d.encoding.codec, error);
  }
  const bytes = out.getDecodedBuffer();
  const expected = d.rows * d.columns * d.samplesPerPixel * (d.bitsAllocated / 8);
  if (!bytes || bytes.length < expected) {
    throw undecodable(
      `DICOM frame ${d.frame} decoded to ${bytes?.length ?? 0} bytes, expected ${expected}: the ${CODESTREAM[d.encoding.codec]} codestream is corrupt`,
    );
  }
  return {
    bytes: bytes.subarray(0, expected),
    photometric: out.getPhotometricInterpretation() ?? d.photometric,
    planarConfiguration: out.getPlanarConfiguration() ?? d.planarConfiguration,
  };
}
