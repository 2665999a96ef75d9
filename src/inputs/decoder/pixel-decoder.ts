import type { Logger } from 'pino';
import type { Cancellation } from '../../engine/request-group.ts';
import { DeadlineExceededError } from '../../engine/errors.ts';
import { CancelledError, ServiceError, undecodable, unavailable } from '../../errors.ts';
import { PoolClosedError, PoolQueueFullError, TaskFailedError, WorkerFailedError } from '../../workers/errors.ts';
import { WorkerPool } from '../../workers/pool.ts';
import type { RawImage } from '../raw-window.ts';
import type { RenderedImage, RenderOptions, WindowRecord } from '../dicom/types.ts';
import { limitsOf, type InputLimits } from '../limits.ts';
import type { JsonBody, JsonImages } from '../json-body.ts';
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

/** A decode waiting for a thread: `start` hands it to the pool. */
interface Waiting {
  start: () => void;
}

/** What a DICOM object will cost to render, found by a header pass on a decoder thread before any pixel is decoded. */
export interface DicomCost {
  /** Worst-case bytes the decoder thread holds while rendering the frame (dicom/cost.ts). */
  bytes: number;
  /** The frame's size, for the transform's share. */
  width: number;
  height: number;
}

/**
 * Threads that parse, decode and render DICOM and window samples wider than 8 bits, so that codecs and pixel
 * loops never run on the HTTP thread. Owned by the app: started with it (the codecs load then), closed with it.
 * The pool's failures get their error codes here: a decode that killed or hung its thread is that input's fault
 * (`undecodable`); a full queue or a shutdown is nobody's (`queue_full`, `shutting_down`).
 */
export class PixelDecoder {
  readonly #pool: WorkerPool<DecodeTask, DecodeResult, null>;
  readonly #timeoutMs: number;
  readonly #maxQueue: number;
  readonly #logger: Logger;
  /** Decodes wait here rather than in the pool, so that one whose client left or whose deadline passed is dropped. */
  readonly #waiting: Waiting[] = [];
  #closed = false;
  #jsonBodies = 0;

  constructor(options: PixelDecoderOptions) {
    this.#timeoutMs = options.taskTimeoutMs;
    this.#maxQueue = options.maxQueue;
    this.#logger = options.logger;
    this.#pool = new WorkerPool<DecodeTask, DecodeResult, null>({
      name: 'pixel decoder',
      entry: options.entry ?? ENTRY,
      setup: null,
      size: options.threads,
      taskTimeoutMs: options.taskTimeoutMs,
      maxQueue: options.maxQueue,
      logger: options.logger,
    });
    this.#pool.onAvailable(() => this.#dispatch());
  }

  /** Decodes waiting for a thread. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** JSON bodies read on these threads since start (JSON_WORKER_MIN_BYTES): how tests see that the HTTP thread did not. */
  get jsonBodies(): number {
    return this.#jsonBodies;
  }

  /**
   * A large JSON body read on a thread (src/inputs/json-body.ts): the bytes are moved there, not copied, when
   * they own their memory. Waits its turn with the decodes (503 queue_full past DECODER_MAX_QUEUE).
   */
  async readJson(bytes: Buffer, images: JsonImages | undefined): Promise<JsonBody> {
    const moved = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
    const result = await this.#run(
      { kind: 'json', bytes: moved, ...(images === undefined ? {} : { images }) },
      [moved.buffer as ArrayBuffer],
      {},
    );
    if (result.kind !== 'json') throw new Error(`the pixel decoder answered a ${result.kind} task for a json task`);
    this.#jsonBodies++;
    return result.body;
  }

  /** Resolves when every thread has loaded the codecs; rejects (WorkerStartError) when one cannot. */
  async start(): Promise<void> {
    await this.#pool.start();
  }

  /** Fails what is waiting or running with 503 shutting_down and ends the threads. */
  close(): Promise<void> {
    this.#closed = true;
    const closing = this.#pool.close();
    // The pool is closed now, so each waiting decode handed to it fails at once as shutting down.
    for (const waiting of this.#waiting.splice(0)) waiting.start();
    return closing;
  }

  /**
   * The header pass of a DICOM object: its cost, or the same 400/413/415/422 the rendering would give, found
   * without decoding a pixel. A deflated data set is inflated here (bounded by limits.imageBytes).
   */
  async dicomCost(bytes: Uint8Array, options: RenderOptions, limits: InputLimits, cancellation: Cancellation = {}): Promise<DicomCost> {
    const copy = new Uint8Array(bytes);
    const result = await this.#run(
      { kind: 'dicom-cost', bytes: copy, options: { ...options }, limits: limitsOf(limits) },
      [copy.buffer],
      cancellation,
    );
    if (result.kind !== 'dicom-cost') throw new Error(`the pixel decoder answered a ${result.kind} task for a dicom-cost task`);
    return { bytes: result.bytes, width: result.width, height: result.height };
  }

  /**
   * One frame of a DICOM object rendered as a viewer would, to 8-bit RGB. Rejects with ServiceError: 400 (frame,
   * window), 413 (pixels over the limit, before decoding), 415 (transfer syntax), 422 (undecodable), 503.
   * The bytes are copied, never retained.
   */
  async renderDicom(
    bytes: Uint8Array,
    options: RenderOptions,
    limits: InputLimits,
    cancellation: Cancellation = {},
  ): Promise<RenderedImage> {
    const copy = new Uint8Array(bytes);
    const result = await this.#run(
      { kind: 'dicom', bytes: copy, options: { ...options }, limits: limitsOf(limits) },
      [copy.buffer],
      cancellation,
    );
    if (result.kind !== 'dicom') throw new Error(`the pixel decoder answered a ${result.kind} task for a dicom task`);
    const data = result.image.data as Uint8Array;
    return { ...result.image, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  }

  /** Samples wider than 8 bits windowed to 8-bit RGB by the automatic percentile rule. The samples are copied. */
  async windowSamples(raw: RawImage, cancellation: Cancellation = {}): Promise<{ data: Buffer; window: WindowRecord }> {
    // sharp's buffer may be a view into a shared pool: copy it once into a buffer of its own and transfer that,
    // rather than letting postMessage clone it a second time.
    const samples = new Uint8Array(raw.data);
    const result = await this.#run({ kind: 'raw', raw: { ...raw, data: samples } }, [samples.buffer], cancellation);
    if (result.kind !== 'raw') throw new Error(`the pixel decoder answered a ${result.kind} task for a raw task`);
    return { data: Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength), window: result.window };
  }

  async #run(task: DecodeTask, transfer: ArrayBuffer[], cancellation: Cancellation): Promise<DecodeResult> {
    try {
      return await this.#whenThreadFree(task, transfer, cancellation);
    } catch (err) {
      throw this.#answer(err);
    }
  }

  /**
   * Hands the task to the pool as soon as a thread is free, in arrival order. Until then it can be dropped: when
   * the client leaves (CancelledError) or the request's deadline passes (DeadlineExceededError). A task a thread
   * has taken runs to its end (or to DECODER_TIMEOUT_MS).
   */
  #whenThreadFree(task: DecodeTask, transfer: ArrayBuffer[], cancellation: Cancellation): Promise<DecodeResult> {
    const { signal, deadline } = cancellation;
    if (signal?.aborted === true) return Promise.reject(new CancelledError('the client disconnected before the image was decoded'));
    if (deadline !== undefined && deadline <= Date.now()) return Promise.reject(new DeadlineExceededError(false));
    // Once closed, the pool refuses at once (503 shutting_down).
    if (this.#closed || (this.#waiting.length === 0 && this.#pool.idle > 0)) return this.#pool.run(task, transfer);
    if (this.#waiting.length >= this.#maxQueue)
      return Promise.reject(new PoolQueueFullError(`${this.#waiting.length} images are waiting to be decoded`));
    return new Promise<DecodeResult>((resolve, reject) => {
      const timer = deadline === undefined ? undefined : setTimeout(() => leave(new DeadlineExceededError(false)), deadline - Date.now());
      const onAbort = () => leave(new CancelledError('the client disconnected before the image was decoded'));
      const settle = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiting: Waiting = {
        start: () => {
          settle();
          this.#pool.run(task, transfer).then(resolve, reject);
        },
      };
      const leave = (err: Error) => {
        settle();
        const at = this.#waiting.indexOf(waiting);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(err);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiting);
    });
  }

  #dispatch(): void {
    while (this.#waiting.length > 0 && this.#pool.idle > 0) this.#waiting.shift()!.start();
  }

  #answer(err: unknown): unknown {
    if (err instanceof TaskFailedError) {
      if (isServiceErrorDetail(err.detail)) {
        const { code, field, diagnostic } = err.detail;
        if (diagnostic !== undefined) this.#logger.debug({ code, diagnostic }, 'pixel decoder: what the codec said of an input it refused');
        return new ServiceError(code, err.message, field === undefined ? undefined : { field });
      }
      // Anything else thrown while decoding is a codec fault on hostile input or a decoder bug: still this input's.
      // Its text names a library's or the decoder's insides, so it goes to the log, not to the client.
      this.#logger.debug({ diagnostic: err.message }, 'pixel decoder: an unclassified error on an input');
      return undecodable('the image could not be decoded: the decoder could not read its pixel data');
    }
    if (err instanceof WorkerFailedError) {
      // The thread died or hung on this input (the pool times a task from when a thread takes it, so an input
      // that merely waited behind a bad one is never blamed). What killed it is a library's text: the log's.
      if (err.reason === 'crashed') this.#logger.debug({ diagnostic: err.message }, 'pixel decoder: the thread failed on an input');
      return err.reason === 'timed_out'
        ? undecodable(`decoding took longer than ${this.#timeoutMs} ms (DECODER_TIMEOUT_MS) and was stopped`)
        : undecodable('the image decoder failed on this input: its thread stopped, and was replaced');
    }
    if (err instanceof PoolQueueFullError) return unavailable('too many images are waiting to be decoded; retry', 'queue_full', 1);
    if (err instanceof PoolClosedError) return unavailable('the image decoder is shutting down', 'shutting_down', 1);
    return err;
  }
}
