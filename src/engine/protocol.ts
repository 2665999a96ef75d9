/**
 * Messages between the pool (main thread) and an inference worker. Tensors travel as typed arrays whose
 * buffers are transferred, never copied.
 */
import type { EncoderKind } from '../config.ts';

export interface FeedTensor {
  name: string;
  type: 'float32' | 'int64';
  data: Float32Array | BigInt64Array;
  dims: number[];
}

/** What the worker needs to build its session and warm it up, passed as workerData. */
export interface WorkerSetup {
  modelPath: string;
  encoder: EncoderKind;
  /** onnxruntime execution provider names, in order of preference. */
  providers: string[];
  intraOpThreads: number;
  /** onnxruntime's session.intra_op.allow_spinning. */
  spinning: boolean;
  outputName: string;
  /** One dummy batch run before the worker reports ready, so the first request does not pay for it. */
  warmup: FeedTensor[];
}

export interface ProviderAttempt {
  provider: string;
  error: string;
}

/** The feeds' buffers, each once (a transfer list must not name one twice). */
export function distinctBuffers(feeds: FeedTensor[]): ArrayBuffer[] {
  return [...new Set(feeds.map((f) => f.data.buffer as ArrayBuffer))];
}

export type ToWorker =
  | { type: 'run'; id: number; feeds: FeedTensor[] }
  /** Test hook: blocks the worker's thread for `ms`, so that the next batch is held by a busy worker. */
  | { type: 'stall'; ms: number };

export type FromWorker =
  | { type: 'ready'; provider: string; attempts: ProviderAttempt[] }
  | { type: 'start-failed'; attempts: ProviderAttempt[]; error: string }
  /** `inputs`: the feeds' buffers, handed back for the next batch (src/engine/buffer-recycler.ts). */
  | { type: 'result'; id: number; data: Float32Array; dims: number[]; seconds: number; inputs: ArrayBuffer[] }
  | { type: 'run-failed'; id: number; error: string };
