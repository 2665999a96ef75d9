// The pixel decoder's answers to its callers, through the one input entry point, with decodes that really hang:
// test/fixtures/workers/hanging-decoder.ts is the real decoder thread except for one marker, and says on a
// broadcast channel when it starts hanging, so nothing here sleeps or polls.
import { readdirSync, readFileSync } from 'node:fs';
import { BroadcastChannel } from 'node:worker_threads';
import pino from 'pino';
import sharp from 'sharp';
import t from 'tap';
import type { Test } from 'tap';
import { ServiceError } from '../../../src/errors.ts';
import { statusOf } from '../../../src/http/errors/error-handler.ts';
import { decodeImage } from '../../../src/inputs/decode.ts';
import { PixelDecoder } from '../../../src/inputs/decoder/pixel-decoder.ts';
import type { PixelDecoderOptions } from '../../../src/inputs/decoder/pixel-decoder.ts';
import type { ImageTensorSpec } from '../../../src/models/types.ts';
import { ct } from '../../fixtures/dicom/images.ts';
import { imageDicom } from '../../fixtures/dicom/writer.ts';
import { capturedLogger } from '../../helpers/common.ts';
import { CRASH_MARKER, LIBRARY_TEXT, THROW_MARKER } from '../../helpers/hanging-decoder.ts';

// Kept in step with the fixture (importing it would start serving on this thread).
const HANG_MARKER = 'HANG-THE-PIXEL-DECODER';
const HANG_CHANNEL = 'unimed-hanging-decoder';
const HANGING_ENTRY = new URL('../../fixtures/workers/hanging-decoder.ts', import.meta.url);

const spec: ImageTensorSpec = { size: 16, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
const hanging = imageDicom(ct([[0x00081030, 'LO', HANG_MARKER]]));
const valid = imageDicom(ct());

async function started(t: Test, options: Partial<PixelDecoderOptions>): Promise<PixelDecoder> {
  const decoder = new PixelDecoder({
    threads: 1,
    taskTimeoutMs: 30_000,
    maxQueue: 8,
    logger: pino({ level: 'silent' }),
    entry: HANGING_ENTRY,
    ...options,
  });
  await decoder.start();
  t.teardown(() => decoder.close());
  return decoder;
}

/** Resolves when `count` more hanging decodes have started on decoder threads. */
function hangsStarted(count = 1): Promise<void> {
  const channel = new BroadcastChannel(HANG_CHANNEL);
  let seen = 0;
  return new Promise((resolve) => {
    channel.onmessage = () => {
      if (++seen < count) return;
      channel.close();
      resolve();
    };
  });
}

const decode = (decoder: PixelDecoder, bytes: Buffer) => decodeImage({ bytes }, spec, { imagePixels: 1_000_000, decoder });

/** What a decode ended as: 'ok', or the ServiceError's status and code. */
function outcome(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (err: unknown) => (err instanceof ServiceError ? `${statusOf(err.code)} ${err.code}` : `unexpected ${String(err)}`),
  );
}

/** Threads named as Node names worker threads, counted from /proc (Linux). */
function workerThreads(): number {
  return readdirSync('/proc/self/task').filter((id) => readFileSync(`/proc/self/task/${id}/comm`, 'utf8').trim() === 'WorkerThread').length;
}

t.test('a decode that hangs gets 422 when its time is up; an image queued behind it waits and succeeds', async (t) => {
  const decoder = await started(t, { taskTimeoutMs: 1000 });
  const hang = hangsStarted();
  const order: string[] = [];
  const hung = decode(decoder, hanging).catch((err: unknown) => {
    order.push('hang');
    throw err;
  });
  await hang;
  // Queued while the only thread hangs, it waits out the timeout and a replacement thread's start: its own time
  // only starts when a thread takes it.
  const behind = decode(decoder, valid).then((image) => {
    order.push('valid');
    return image;
  });
  await t.rejects(hung, {
    code: 'undecodable',
    message: /decoding took longer than 1000 ms \(DECODER_TIMEOUT_MS\) and was stopped/,
  });
  const image = await behind;
  t.same(order, ['hang', 'valid'], 'the valid image ran after the hang, on the replacement thread');
  t.equal(image.preprocessing.source.format, 'dicom');
  t.equal(image.pixels.length, 3 * spec.size * spec.size);
});

t.test('queue full: 503 queue_full with a Retry-After; 8-bit images never wait for the decoder', async (t) => {
  const decoder = await started(t, { maxQueue: 1 });
  const hang = hangsStarted();
  const running = outcome(decode(decoder, hanging));
  await hang;
  const queued = outcome(decode(decoder, valid));
  await t.rejects(decode(decoder, valid), { code: 'queue_full', retryAfterSeconds: 1 });
  const png = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  t.equal((await decode(decoder, png)).preprocessing.source.format, 'png', 'decoded by sharp on the libuv pool');
  await decoder.close();
  t.same(await Promise.all([running, queued]), ['503 shutting_down', '503 shutting_down']);
});

t.test('close fails what is running or waiting with 503 shutting_down and leaves no thread behind', async (t) => {
  if (process.platform !== 'linux') {
    t.comment('threads are counted from /proc: Linux only');
    return;
  }
  const before = workerThreads();
  const decoder = await started(t, { threads: 2 });
  t.equal(workerThreads(), before + 2, 'two decoder threads while open');
  const hangs = hangsStarted(2);
  const pending = [outcome(decode(decoder, hanging)), outcome(decode(decoder, hanging))];
  await hangs;
  pending.push(outcome(decode(decoder, valid)));
  await decoder.close();
  t.same(await Promise.all(pending), ['503 shutting_down', '503 shutting_down', '503 shutting_down'], 'running and queued decodes fail');
  t.ok(workerThreads() <= before, 'the threads are gone, hung ones included');
  await t.rejects(decode(decoder, valid), { code: 'shutting_down', retryAfterSeconds: 1 }, 'a later decode is refused');
});

t.test(
  "a library's error in a decoder thread, thrown or fatal to the thread: 422 without its text, which goes to the debug log",
  async (t) => {
    const { logger, lines } = capturedLogger('debug');
    const decoder = await started(t, { logger });
    const thrown = decode(decoder, imageDicom(ct([[0x00081030, 'LO', THROW_MARKER]])));
    await t.rejects(thrown, { code: 'undecodable', message: 'the image could not be decoded: the decoder could not read its pixel data' });
    t.ok(
      lines.some((l) => l.includes('"level":20') && l.includes(LIBRARY_TEXT)),
      'the thrown text is logged at debug',
    );
    const crashed = decode(decoder, imageDicom(ct([[0x00081030, 'LO', CRASH_MARKER]])));
    await t.rejects(crashed, {
      code: 'undecodable',
      message: 'the image decoder failed on this input: its thread stopped, and was replaced',
    });
    for (const outcome of await Promise.allSettled([thrown, crashed])) {
      t.notMatch(String((outcome as PromiseRejectedResult).reason), /FakeCodec|Huffman|::/, 'no library text in the answer');
    }
    t.equal((await decode(decoder, valid)).preprocessing.source.format, 'dicom', 'the replacement thread decodes');
  },
);
