import { Worker } from 'node:worker_threads';
import { unavailable } from '../errors.ts';
import type { ServiceError } from '../errors.ts';
import { distinctBuffers } from './protocol.ts';
import type { FeedTensor, FromWorker, ProviderAttempt, ToWorker, WorkerSetup } from './protocol.ts';

// Tests and `npm run dev` run the sources, `npm start` runs the build: pick the entry that sits next to us.
const WORKER_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

export interface RunResult {
  data: Float32Array;
  dims: number[];
  seconds: number;
  /** The buffers of the feeds, back from the worker and free to be reused. */
  inputs: ArrayBuffer[];
}

export interface StartInfo {
  provider: string;
  /** Providers that were tried before and failed, with onnxruntime's reason. */
  attempts: ProviderAttempt[];
}

interface Pending {
  id: number;
  resolve: (result: RunResult) => void;
  reject: (err: ServiceError) => void;
  timer: NodeJS.Timeout;
}

/**
 * One worker thread with one session, seen from the main thread: start, run one batch at a time, and die
 * loudly. A crash (exit or uncaught error) or a batch held past `timeoutMs` terminates the thread and rejects
 * the batch it held with 503 `worker_failed`; `onDeath` tells the pool to replace it.
 */
export class InferenceWorker {
  readonly worker: Worker;
  readonly #timeoutMs: number;
  #pending: Pending | undefined;
  #nextId = 1;
  #dead = false;
  #ready = false;
  #deathListeners: ((reason: string) => void)[] = [];
  #started: Promise<StartInfo>;

  constructor(setup: WorkerSetup, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.worker = new Worker(WORKER_ENTRY, { workerData: setup });
    this.#started = new Promise<StartInfo>((resolve, reject) => {
      const onMessage = (message: FromWorker): void => {
        if (message.type === 'ready') {
          this.worker.off('message', onMessage);
          this.worker.on('message', (m: FromWorker) => this.#onMessage(m));
          this.#ready = true;
          resolve({ provider: message.provider, attempts: message.attempts });
        } else if (message.type === 'start-failed') {
          reject(Object.assign(new Error(message.error), { attempts: message.attempts }));
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('exit', (code) => reject(new Error(`the worker exited with code ${code} while starting`)));
    });
    // Failures before and after start both end here; the start promise's own rejection carries the details.
    this.#started.catch(() => undefined);
    this.worker.on('error', (err: Error) => this.#die(`the worker failed: ${err.message}`));
    this.worker.on('exit', (code) => this.#die(`the worker exited with code ${code}`));
  }

  start(): Promise<StartInfo> {
    return this.#started;
  }

  /** The session exists and is warmed up. */
  get ready(): boolean {
    return this.#ready && !this.#dead;
  }

  /** Whether it ever got ready: one that did not was a failed start, not a crash in service. */
  get wasReady(): boolean {
    return this.#ready;
  }

  get busy(): boolean {
    return this.#pending !== undefined;
  }

  get dead(): boolean {
    return this.#dead;
  }

  onDeath(listener: (reason: string) => void): void {
    this.#deathListeners.push(listener);
  }

  /** Runs one batch. The feeds' buffers are transferred: the caller must not touch them afterwards. */
  run(feeds: FeedTensor[]): Promise<RunResult> {
    if (this.#dead) return Promise.reject(unavailable('the inference worker is gone', 'worker_failed'));
    if (this.#pending !== undefined) throw new Error('InferenceWorker.run while a batch is in flight');
    const id = this.#nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#die(`the worker held a batch for more than ${this.#timeoutMs} ms`);
      }, this.#timeoutMs);
      this.#pending = { id, resolve, reject, timer };
      const message: ToWorker = { type: 'run', id, feeds };
      this.worker.postMessage(message, distinctBuffers(feeds));
    });
  }

  /** Test hook, see ToWorker 'stall'. */
  stall(ms: number): void {
    const message: ToWorker = { type: 'stall', ms };
    this.worker.postMessage(message);
  }

  async terminate(): Promise<void> {
    this.#die('the worker was terminated');
    await this.worker.terminate();
  }

  #onMessage(message: FromWorker): void {
    const pending = this.#pending;
    if (pending === undefined || (message.type !== 'result' && message.type !== 'run-failed') || message.id !== pending.id) return;
    clearTimeout(pending.timer);
    this.#pending = undefined;
    if (message.type === 'result') {
      pending.resolve({ data: message.data, dims: message.dims, seconds: message.seconds, inputs: message.inputs });
    } else {
      pending.reject(unavailable(`inference failed: ${message.error}`, 'inference_failed'));
    }
  }

  #die(reason: string): void {
    if (this.#dead) return;
    this.#dead = true;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.reject(unavailable(`the inference worker failed while running this request (${reason}); it is being replaced`, 'worker_failed'));
    }
    // A hung thread must not keep running (and holding its cores) once it has been given up on.
    void this.worker.terminate();
    for (const listener of this.#deathListeners) listener(reason);
  }
}
