import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ServiceError, undecodable } from '../../errors.ts';
import type { DecodeResult, DecodeTask } from './protocol.ts';

type Pending = { resolve: (result: DecodeResult) => void; reject: (error: Error) => void; timer: NodeJS.Timeout | undefined };

export interface DecoderPoolOptions {
  /** A task unanswered this long after dispatch is taken as a hung codec: its worker is terminated, the task fails (422). */
  taskTimeoutMs?: number;
}

const DEFAULT_TASK_TIMEOUT_MS = 30_000;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Slot {
  worker: Worker;
  /** Tasks sent to this worker and not yet answered, by id. */
  pending: Map<number, Pending>;
  /** The task whose timeout terminated this worker, if one did. */
  timedOut: number | undefined;
}

const workerUrl = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/**
 * A small pool of decoder threads, so parsing, codecs and pixel loops never run on the HTTP thread. Tasks go to
 * the least-loaded worker; a worker that dies fails only its own tasks (as 422: the input killed it) and is
 * replaced on the next task. Idle workers are unref'd so they never keep a process alive.
 */
export class DecoderPool {
  readonly size: number;
  private readonly taskTimeoutMs: number;
  private readonly slots: (Slot | undefined)[];
  private nextId = 1;
  private closed = false;

  constructor(size: number, options: DecoderPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(size));
    this.taskTimeoutMs = options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    this.slots = new Array<Slot | undefined>(this.size).fill(undefined);
  }

  run(task: DistributiveOmit<DecodeTask, 'id'>, transfer: ArrayBuffer[] = []): Promise<DecodeResult> {
    if (this.closed) return Promise.reject(new ServiceError(503, 'unavailable', 'the image decoder is shutting down'));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<DecodeResult>((resolve, reject) => {
      const timer = this.taskTimeoutMs > 0
        ? setTimeout(() => {
            slot.timedOut = id;
            void slot.worker.terminate();
          }, this.taskTimeoutMs)
        : undefined;
      timer?.unref();
      slot.pending.set(id, { resolve, reject, timer });
      slot.worker.ref();
      slot.worker.postMessage({ ...task, id }, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map(async (slot) => slot?.worker.terminate()));
    this.slots.fill(undefined);
  }

  /** An idle worker if there is one, else a new worker while the pool is below size, else the least loaded. */
  private pick(): Slot {
    let best: Slot | undefined;
    let empty = -1;
    for (let i = 0; i < this.size; i++) {
      const slot = this.slots[i];
      if (!slot) {
        if (empty < 0) empty = i;
        continue;
      }
      if (slot.pending.size === 0) return slot;
      if (!best || slot.pending.size < best.pending.size) best = slot;
    }
    if (empty >= 0) {
      const slot = this.spawn(empty);
      this.slots[empty] = slot;
      return slot;
    }
    return best!;
  }

  private spawn(index: number): Slot {
    const worker = new Worker(workerUrl);
    const slot: Slot = { worker, pending: new Map(), timedOut: undefined };
    worker.unref();
    worker.on('message', (result: DecodeResult) => {
      const pending = slot.pending.get(result.id);
      if (!pending) return;
      slot.pending.delete(result.id);
      clearTimeout(pending.timer);
      if (slot.pending.size === 0) worker.unref();
      pending.resolve(result);
    });
    const fail = (reason: string) => {
      if (this.slots[index] === slot) this.slots[index] = undefined;
      for (const [id, pending] of slot.pending) {
        clearTimeout(pending.timer);
        let error: ServiceError;
        if (this.closed) error = new ServiceError(503, 'unavailable', 'the image decoder shut down before this input was decoded');
        else if (slot.timedOut === id) error = undecodable(`decoding took longer than ${this.taskTimeoutMs} ms and was stopped`);
        // Queued behind an input that hung: not this input's fault, so a retryable 503 rather than a 422.
        else if (slot.timedOut !== undefined) error = new ServiceError(503, 'unavailable', 'the image decoder was restarted; retry', { retryAfterSeconds: 1 });
        else error = undecodable(`the image decoder failed on this input (${reason})`);
        pending.reject(error);
      }
      slot.pending.clear();
    };
    worker.on('error', (error: Error) => fail(error.message));
    worker.on('exit', (code) => fail(`decoder thread exited with code ${code}`));
    return slot;
  }
}

let shared: DecoderPool | undefined;
let sharedSize = Math.min(2, availableParallelism());
let sharedOptions: DecoderPoolOptions = {};

/** Sets the decoder threads and task timeout; takes effect when the pool is next created (call before first use). */
export function configureDecoderPool(options: { threads?: number } & DecoderPoolOptions): void {
  if (options.threads !== undefined) sharedSize = options.threads;
  sharedOptions = { ...sharedOptions, ...options };
}

export function decoderPool(): DecoderPool {
  shared ??= new DecoderPool(sharedSize, sharedOptions);
  return shared;
}

/** Terminates the decoder threads (graceful shutdown); a later decode starts a new pool. */
export async function closeDecoderPool(): Promise<void> {
  const pool = shared;
  shared = undefined;
  await pool?.close();
}

/** Turns a worker's answer back into a value or the ServiceError it stood for. */
export function unwrap<T extends DecodeResult & { ok: true }>(result: DecodeResult, kind: T['kind']): T {
  if (!result.ok) {
    const { statusCode, code, message } = result.error;
    if (statusCode !== undefined && code !== undefined) throw new ServiceError(statusCode, code, message);
    throw undecodable(`the image could not be decoded: ${message}`);
  }
  if (result.kind !== kind) throw new Error(`decoder answered a ${result.kind} task for a ${kind} task`);
  return result as T;
}
