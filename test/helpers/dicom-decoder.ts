import pino from 'pino';
import t from 'tap';
import { PixelDecoder } from '../../src/inputs/decoder/pixel-decoder.ts';
import { Workdir } from '../fixtures/dicom/tools.ts';

/** The pixel limit the DICOM decoding tests give every decode (the service's default is the same order). */
export const DICOM_TEST_LIMITS = { imagePixels: 64 * 1024 * 1024 };

/**
 * The service's pixel decoder threads, owned by one test file as the app owns its own, and a scratch folder for
 * the DICOM files it writes; both are closed when the file's tests end.
 */
export async function dicomDecoderSetup(threads = 2): Promise<{ decoder: PixelDecoder; work: Workdir }> {
  const decoder = new PixelDecoder({ threads, taskTimeoutMs: 30_000, maxQueue: 64, logger: pino({ level: 'silent' }) });
  await decoder.start();
  const work = new Workdir();
  t.teardown(async () => {
    work.remove();
    await decoder.close();
  });
  return { decoder, work };
}
