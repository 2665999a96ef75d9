/**
 * The worst-case bytes rendering one DICOM frame holds at once, from its description alone (before a pixel is
 * decoded), buffer by buffer as render.ts, colour.ts, samples.ts and codecs.ts make them. It errs high.
 */
import type { ImageDescription } from './parse.ts';

/** Modality, VOI and palette LUTs: at most 65536 16-bit entries each, five of them, with room to spare. */
const LUT_BYTES = 1024 * 1024;
/** Sorting the values of a frame too wide for a histogram (window.ts distinctCounts, twice: kept and all): the
 * kept values (sorted in place), distinct values and counts, and percentileWindow's order of them. */
const SORT_BYTES_PER_VALUE = 2 * (8 + 8 + 8 + 4);

/**
 * What the object decodes to, for the decompression limit: the frame's samples, or the whole data set where it
 * came deflated. A compressed frame or a deflated data set can be a decode bomb; an uncompressed one is its own size.
 */
export function dicomDecodedBytes(d: ImageDescription): number {
  return Math.max(frameSampleBytes(d), d.datasetBytes);
}

/** The frame's samples as Bits Allocated stores them. */
function frameSampleBytes(d: ImageDescription): number {
  return d.rows * d.columns * d.samplesPerPixel * (d.bitsAllocated / 8);
}

/** Everything the decoder thread and the model transform hold for this frame; `fileBytes`: the object's size as sent. */
export function dicomRenderBytes(d: ImageDescription, fileBytes: number): number {
  const pixels = d.rows * d.columns;
  const samples = pixels * d.samplesPerPixel;
  const decoded = frameSampleBytes(d);
  // The file's copy sent to the decoder thread, and the whole inflated data set of a deflated one.
  let bytes = fileBytes + (d.datasetBytes > fileBytes ? d.datasetBytes : 0);
  if (d.encoding.kind === 'encapsulated') {
    // The frame reassembled from its fragments, and the codec's copy of it and its output in WebAssembly memory
    // plus the output handed back to JavaScript.
    bytes += 2 * d.frameBytes.length + 2 * decoded;
  } else if (d.encoding.bigEndian) {
    bytes += decoded;
  }
  // Stored values in the narrowest array that holds them (samples.ts).
  const storedBytes = samples * (d.bitsAllocated > 16 ? 8 : d.bitsStored <= 8 ? 1 : 2);
  bytes += storedBytes;
  if (d.samplesPerPixel === 1 && d.photometric !== 'PALETTE COLOR') {
    bytes += d.bitsStored <= 16 ? 25 * 2 ** d.bitsStored : pixels * (8 + SORT_BYTES_PER_VALUE);
  } else if (d.samplesPerPixel === 3) {
    // Planar or 4:2:2 layouts are re-interleaved into an array of the same kind.
    bytes += storedBytes;
  }
  // The 8-bit RGB result (moved, not copied, to the HTTP side; the transform's buffers are counted there).
  bytes += pixels * 3;
  return bytes + LUT_BYTES;
}
