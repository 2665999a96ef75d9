/**
 * A test inference worker (test/fixtures/workers/inference-test-worker.ts) injected into the real engine: it
 * runs the real onnxruntime session, except for image batches whose first value is one of these markers.
 * HOLD keeps the batch (the worker stays busy, its thread free) until the test releases it; HANG blocks the
 * thread for good and CRASH ends it, so only the pool's supervision can recover. `arm()` makes the workers
 * hold their next batch whatever it is (for requests that come over HTTP), `crash()` ends a holding worker.
 */
import { once } from 'node:events';
import { BroadcastChannel } from 'node:worker_threads';

export const INFERENCE_TEST_WORKER = new URL('../fixtures/workers/inference-test-worker.ts', import.meta.url);
export const GATE_CHANNEL = 'unimed-test-inference-gate';
export const HOLD = 1001;
export const HANG = 1002;
export const CRASH = 1003;
/** While the file this environment variable names exists, new test workers fail to start (replacements that keep failing). */
export const FAIL_START_ENV = 'UNIMED_TEST_FAIL_START_FILE';

/** An image tensor of `plane` values whose first value is `marker` (the rest a plain grey). */
export function marked(plane: number, marker: number): Float32Array {
  const out = new Float32Array(plane).fill(0.25);
  out[0] = marker;
  return out;
}

/** The test's end of the channel: wait until a worker holds a batch, then let it go. */
export class InferenceGate {
  readonly #channel = new BroadcastChannel(GATE_CHANNEL);
  #holding = 0;
  #armed = 0;

  constructor() {
    this.#channel.onmessage = (event) => {
      const message = (event as { data: unknown }).data;
      if (message === 'holding') this.#holding++;
      if (message === 'armed') this.#armed++;
    };
  }

  /**
   * Every image worker (`workers` of them, across registries) holds its next batch, or every text worker with
   * `encoder: 'text'`; resolves once they all know.
   */
  async arm(workers = 1, encoder: 'image' | 'text' = 'image'): Promise<void> {
    const target = this.#armed + workers;
    this.#channel.postMessage(encoder === 'image' ? 'hold-next' : 'hold-next-text');
    while (this.#armed < target) await once(this.#channel as unknown as NodeJS.EventEmitter, 'message');
  }

  /** Ends every worker that is holding a batch (process.exit in the worker thread). */
  crash(): void {
    this.#channel.postMessage('crash');
  }

  /** Batches held so far (counting from this gate's creation). */
  get held(): number {
    return this.#holding;
  }

  /** Resolves once `count` batches in all are being held (counting from this gate's creation). */
  async holding(count = 1): Promise<void> {
    while (this.#holding < count) await once(this.#channel as unknown as NodeJS.EventEmitter, 'message');
  }

  /** Lets every held batch finish. */
  release(): void {
    this.#channel.postMessage('release');
  }

  close(): void {
    this.#channel.close();
  }
}
