/** Locating one frame's bytes in the pixel data, native or encapsulated, without decoding them. */
import dicomParser from 'dicom-parser';
import type { DataSet, Element } from 'dicom-parser';
import { undecodable } from '../../errors.ts';
import type { PixelEncoding } from './transfer-syntax.ts';

export function frameBytes(
  ds: DataSet,
  pixel: Element,
  d: { encoding: PixelEncoding; numberOfFrames: number; frame: number; nativeFrameBytes: number },
): Uint8Array {
  if (d.encoding.kind === 'native') {
    if (pixel.encapsulatedPixelData) throw undecodable('DICOM pixel data is encapsulated but the transfer syntax is native');
    const start = pixel.dataOffset + d.frame * d.nativeFrameBytes;
    const available = Math.min(pixel.length, ds.byteArray.length - pixel.dataOffset);
    if ((d.frame + 1) * d.nativeFrameBytes > available) {
      throw undecodable(
        `DICOM pixel data is truncated: ${available} bytes present, frame ${d.frame} needs bytes up to ${(d.frame + 1) * d.nativeFrameBytes}`,
      );
    }
    return ds.byteArray.subarray(start, start + d.nativeFrameBytes);
  }
  const fragments = pixel.fragments;
  if (!pixel.encapsulatedPixelData || !fragments || fragments.length === 0) {
    throw undecodable('DICOM pixel data should be encapsulated (compressed) for this transfer syntax but is not');
  }
  try {
    if (d.numberOfFrames === 1) {
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, fragments.length);
    }
    if (pixel.basicOffsetTable && pixel.basicOffsetTable.length === d.numberOfFrames) {
      return dicomParser.readEncapsulatedImageFrame(ds, pixel, d.frame);
    }
    if (fragments.length === d.numberOfFrames) {
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, d.frame, 1);
    }
  } catch {
    throw undecodable('DICOM encapsulated pixel data is malformed: its fragments or offset table run past the pixel data');
  }
  throw undecodable(
    `DICOM encapsulated pixel data has ${fragments.length} fragments for ${d.numberOfFrames} frames and no offset table to split them`,
  );
}
