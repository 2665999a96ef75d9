import type { Logger } from 'pino';
import { ServiceError, undecodable, unavailable } from '../../errors.ts';
import { PoolClosedError, PoolQueueFullError, TaskFailedError, WorkerFailedError } from '../../workers/errors.ts';
import { WorkerPool } from '../../workers/pool.ts';
import type { RawImage } from '../dicom/raw-window.ts';
import type { RenderedImage, RenderOptions, WindowRecord } from '../dicom/types.ts';
import type { InputLimits } from '../limits.ts';
import { isServiceErrorDetail } from './protocol.ts';
import type { DecodeResult, DecodeTask } from './protocol.ts';

export interface PixelDecoderOptions {
  threads: number;
  /** A decode held longer than this, counted from when a thread takes it, is taken for a hang: 422, thread replaced. */
  taskTimeoutMs: number;
  /** Decodes waiting for a thread at most; past it 503 queue_full. */
  maxQueue: number;
  logger: Logger;
  /** The thread's module; the real one unless a test substitutes one that can be made to hang. */
  entry?: URL;
}

const ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * Threads that parse, decode and render DICOM and window samples wider than 8 bits, so that codecs and pixel
 * loops never run on the HTTP thread. Owned by the app: started with it (the codecs load then), closed with it.
 * The pool's failures become the client's answers here: a decode that killed or hung its thread is that
 * input's fault (422); a full queue or a shutdown is nobody's (503).
 */
export class PixelDecoder {
  readonly #pool: WorkerPool<DecodeTask, DecodeResult, null>;
  readonly #timeoutMs: number;

  constructor(options: PixelDecoderOptions) {
    this.#timeoutMs = options.taskTimeoutMs;
    this.#pool = new WorkerPool<DecodeTask, DecodeResult, null>({
      name: 'pixel decoder',
      entry: options.entry ?? ENTRY,
      setup: null,
      size: options.threads,
      taskTimeoutMs: options.taskTimeoutMs,
      maxQueue: options.maxQueue,
      logger: options.logger,
    });
  }

  /** Resolves when every thread has loaded the codecs; rejects (WorkerStartError) when one cannot. */
  async start(): Promise<void> {
    await this.#pool.start();
  }

  /** Fails what is waiting or running with 503 shutting_down and ends the threads. */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /**
   * One frame of a DICOM object rendered as a viewer would, to 8-bit RGB. Rejects with ServiceError: 400 (frame,
   * window), 413 (pixels over the limit, before decoding), 415 (transfer syntax), 422 (undecodable), 503.
   * The bytes are copied, never retained.
   */
  async renderDicom(bytes: Uint8Array, options: RenderOptions, limits: InputLimits): Promise<RenderedImage> {
    const copy = new Uint8Array(bytes);
    const result = await this.#run({ kind: 'dicom', bytes: copy, options: { ...options }, limits: { imagePixels: limits.imagePixels } }, [copy.buffer]);
    if (result.kind !== 'dicom') throw new Error(`the pixel decoder answered a ${result.kind} task for a dicom task`);
    const data = result.image.data as Uint8Array;
    return { ...result.image, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  }

  /** Samples wider than 8 bits windowed to 8-bit RGB by the automatic percentile rule. The samples are copied. */
  async windowSamples(raw: RawImage): Promise<{ data: Buffer; window: WindowRecord }> {
    // sharp's buffer may be a view into a shared pool: copy it once into a buffer of its own and transfer that,
    // rather than letting postMessage clone it a second time.
    const samples = new Uint8Array(raw.data);
    const result = await this.#run({ kind: 'raw', raw: { ...raw, data: samples } }, [samples.buffer]);
    if (result.kind !== 'raw') throw new Error(`the pixel decoder answered a ${result.kind} task for a raw task`);
    return { data: Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength), window: result.window };
  }

  async #run(task: DecodeTask, transfer: ArrayBuffer[]): Promise<DecodeResult> {
    try {
      return await this.#pool.run(task, transfer);
    } catch (err) {
      throw this.#answer(err);
    }
  }

  #answer(err: unknown): unknown {
    if (err instanceof TaskFailedError) {
      if (isServiceErrorDetail(err.detail)) return new ServiceError(err.detail.statusCode, err.detail.code, err.message);
      // Anything else thrown while decoding is a codec fault on hostile input or a decoder bug: still this input's.
      return undecodable(`the image could not be decoded: ${err.message}`);
    }
    if (err instanceof WorkerFailedError) {
      // The thread died or hung on this input (the pool times a task from when a thread takes it, so an input
      // that merely waited behind a bad one is never blamed).
      return err.reason === 'timed_out'
        ? undecodable(`decoding took longer than ${this.#timeoutMs} ms (DECODER_TIMEOUT_MS) and was stopped`)
        : undecodable(`the image decoder failed on this input (${err.message})`);
    }
    if (err instanceof PoolQueueFullError) return unavailable('too many images are waiting to be decoded; retry', 'queue_full', 1);
    if (err instanceof PoolClosedError) return unavailable('the image decoder is shutting down', 'shutting_down', 1);
    return err;
  }
}
