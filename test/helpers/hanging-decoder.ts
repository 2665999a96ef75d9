/**
 * The hanging pixel decoder (test/fixtures/workers/hanging-decoder.ts): the real decoder thread, except that a
 * DICOM object holding HANG_MARKER blocks its thread for good after saying so on HANG_CHANNEL. Shared by the
 * fixture and the tests that start it (the fixture itself cannot be imported: it starts serving on import).
 */
import { BroadcastChannel } from 'node:worker_threads';
import { ct } from '../fixtures/dicom/images.ts';
import { imageDicom } from '../fixtures/dicom/writer.ts';

export const HANG_MARKER = 'HANG-THE-PIXEL-DECODER';
/** A DICOM object holding it makes the decoder throw a plain Error with a library's text (not a ServiceError). */
export const THROW_MARKER = 'THROW-IN-THE-PIXEL-DECODER';
/** A DICOM object holding it kills the decoder thread with an uncaught error carrying a library's text. */
export const CRASH_MARKER = 'CRASH-THE-PIXEL-DECODER';
/** The library text both carry: what must never reach a client. */
export const LIBRARY_TEXT = 'FakeCodec::decode_internal::bad Huffman table';
export const HANG_CHANNEL = 'unimed-hanging-decoder';
export const HANGING_ENTRY = new URL('../fixtures/workers/hanging-decoder.ts', import.meta.url);

/** A valid CT object that hangs the decoder thread which takes it. */
export const hangingDicom = (): Buffer => imageDicom(ct([[0x00081030, 'LO', HANG_MARKER]]));

/** Resolves when the next hanging decode has started on a decoder thread. */
export function hangStarted(): Promise<void> {
  const channel = new BroadcastChannel(HANG_CHANNEL);
  return new Promise((resolve) => {
    channel.onmessage = () => {
      channel.close();
      resolve();
    };
  });
}
