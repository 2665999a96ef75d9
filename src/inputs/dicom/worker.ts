import { parentPort } from 'node:worker_threads';
import { ServiceError } from '../../errors.ts';
import { loadCodecs } from './codecs.ts';
import type { DecodeResult, DecodeTask } from './protocol.ts';
import { windowRaw } from './raw-window.ts';
import { renderDicomSync } from './render.ts';

// One task at a time per worker: decoding is CPU-bound and synchronous once the codecs are loaded.
const port = parentPort!;
port.on('message', (task: DecodeTask) => {
  void handle(task).then(({ result, transfer }) => port.postMessage(result, transfer));
});

/** Small Buffers live in Node's shared pool, which must not be transferred; give them an ArrayBuffer of their own. */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

async function handle(task: DecodeTask): Promise<{ result: DecodeResult; transfer: ArrayBuffer[] }> {
  try {
    if (task.kind === 'raw') {
      const { data: pixels, window } = windowRaw(task.raw);
      const data = owned(pixels);
      return { result: { id: task.id, ok: true, kind: 'raw', data, window }, transfer: [data.buffer as ArrayBuffer] };
    }
    await loadCodecs();
    const image = renderDicomSync(task.bytes, task.options, task.limits);
    const data = owned(image.data);
    return {
      result: { id: task.id, ok: true, kind: 'dicom', image: { ...image, data: data as Buffer } },
      transfer: [data.buffer as ArrayBuffer],
    };
  } catch (error) {
    if (error instanceof ServiceError) {
      return { result: { id: task.id, ok: false, error: { statusCode: error.statusCode, code: error.code, message: error.message } }, transfer: [] };
    }
    // Anything else is a decoder bug or a codec fault on hostile input: report it as undecodable, never as a crash.
    const reason = error instanceof Error ? error.message : String(error);
    return { result: { id: task.id, ok: false, error: { message: reason } }, transfer: [] };
  }
}
