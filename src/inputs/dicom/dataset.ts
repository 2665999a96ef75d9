/**
 * The data set as dicom-parser reads it, with the two things it needs told: which tags are sequences (implicit
 * VR carries no VRs) and how to inflate a deflated transfer syntax without letting a deflate bomb through.
 */
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { ServiceError, undecodable } from '../../errors.ts';
import { hasPart10Preamble } from '../format.ts';
import { imageTooLarge } from '../limits.ts';

const SEQUENCE_TAGS = new Set([
  'x00283000', // Modality LUT Sequence
  'x00283010', // VOI LUT Sequence
  'x52009229', // Shared Functional Groups Sequence
  'x52009230', // Per-Frame Functional Groups Sequence
  'x00289145', // Pixel Value Transformation Sequence
  'x00289132', // Frame VOI LUT Sequence
]);
export const IMPLICIT_LITTLE_ENDIAN = '1.2.840.10008.1.2';

export function parseDataSet(bytes: Uint8Array, maxInflatedBytes: number): DataSet {
  const options: dicomParser.ParseDicomOptions = {
    // Implicit VR data sets carry no VRs: name the sequences the pipeline reads rather than rely on the parser
    // sniffing item tags (the typings say vrCallback returns void, but the parser uses the VR it returns).
    vrCallback: (tag: string) => (SEQUENCE_TAGS.has(tag) ? 'SQ' : undefined),
    inflater: (array: Uint8Array, position: number) => {
      let inflated: Buffer;
      try {
        // Bounded so a deflate bomb fails here instead of exhausting memory.
        inflated = inflateRawSync(array.subarray(position), { maxOutputLength: maxInflatedBytes });
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw imageTooLarge(
            `deflated DICOM data set inflates to more than ${maxInflatedBytes} bytes (MAX_IMAGE_PIXELS, MAX_IMAGE_BYTES)`,
          );
        }
        throw undecodable('deflated DICOM data set cannot be inflated: the deflate stream is corrupt or truncated');
      }
      const whole = Buffer.allocUnsafe(position + inflated.length);
      whole.set(array.subarray(0, position), 0);
      whole.set(inflated, position);
      return whole;
    },
  };
  if (!hasPart10Preamble(bytes)) {
    // A bare data set (no preamble or meta header) is legal on the wire and is implicit VR little endian.
    options.TransferSyntaxUID = IMPLICIT_LITTLE_ENDIAN;
  }
  try {
    return dicomParser.parseDicom(bytes, options);
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    // The parser's own text names its internals (dicomParser:parseDicomDataSetExplicit ...): a client gets a fixed message.
    throw undecodable('malformed or truncated DICOM: an element is cut short or its length runs past the data set');
  }
}
