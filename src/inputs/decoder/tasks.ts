/**
 * The pixel decoder's thread side: the codecs are loaded before the thread reports ready (a broken install
 * fails at start, not on the first DICOM), then one task at a time, synchronously.
 */
import { ServiceError } from '../../errors.ts';
import type { TaskServer } from '../../workers/serve.ts';
import { checkCodestream } from '../dicom/codestream.ts';
import { loadCodecs } from '../dicom/codecs.ts';
import { dicomDecodedBytes, dicomRenderBytes } from '../dicom/cost.ts';
import { checkDecompression } from '../limits.ts';
import { describe } from '../dicom/parse.ts';
import { readJsonBody } from '../json-body.ts';
import { windowRaw } from '../raw-window.ts';
import { renderDicomSync } from '../dicom/render.ts';
import type { DecodeResult, DecodeTask, ServiceErrorDetail } from './protocol.ts';
import type { Reply } from '../../workers/protocol.ts';

/** Small Buffers live in Node's shared pool, which must not be transferred; give them an ArrayBuffer of their own. */
function owned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

async function run(task: DecodeTask): Promise<Reply<DecodeResult>> {
  if (task.kind === 'json') {
    const { body, transfer } = readJsonBody(task.bytes, task.images);
    return { result: { kind: 'json', body }, transfer };
  }
  if (task.kind === 'raw') {
    const { data: pixels, window } = windowRaw(task.raw);
    const data = owned(pixels);
    return { result: { kind: 'raw', data, window }, transfer: [data.buffer as ArrayBuffer] };
  }
  if (task.kind === 'dicom-cost') {
    const d = describe(task.bytes, task.options.frame, task.limits);
    // A codestream that contradicts Rows/Columns is refused here, before any memory is reserved for it.
    checkCodestream(d);
    const jpeg = d.encoding.kind === 'encapsulated' && d.encoding.codec === 'jpeg';
    checkDecompression(
      { decodedBytes: dicomDecodedBytes(d), sentBytes: task.bytes.length, jpeg, what: `${d.columns}x${d.rows} DICOM frame` },
      task.limits.decompression,
    );
    return {
      result: { kind: 'dicom-cost', bytes: dicomRenderBytes(d, task.bytes.length), width: d.columns, height: d.rows },
      transfer: [],
    };
  }
  // Loaded at start; after a codec trap the module is dropped (codecs.ts) and comes back here.
  await loadCodecs();
  const image = renderDicomSync(task.bytes, task.options, task.limits);
  const data = owned(image.data);
  return { result: { kind: 'dicom', image: { ...image, data: data as Buffer } }, transfer: [data.buffer as ArrayBuffer] };
}

/** A library's message is cut to this many characters before it is logged (its text is about a codestream, not a patient). */
const MAX_DIAGNOSTIC_CHARS = 500;

/** A ServiceError keeps its code, field and cause's message across the thread boundary as the failure's detail. */
function crossable(error: unknown): unknown {
  if (!(error instanceof ServiceError)) return error;
  const detail: ServiceErrorDetail = {
    code: error.code,
    ...(error.field === undefined ? {} : { field: error.field }),
    ...(error.cause instanceof Error ? { diagnostic: error.cause.message.slice(0, MAX_DIAGNOSTIC_CHARS) } : {}),
  };
  return Object.assign(new Error(error.message), { detail });
}

export async function startPixelDecoder(): Promise<TaskServer<null, DecodeTask, DecodeResult>> {
  await loadCodecs();
  return {
    info: null,
    async handle(task) {
      try {
        return await run(task);
      } catch (error) {
        throw crossable(error);
      }
    },
  };
}
