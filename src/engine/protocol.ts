/**
 * What travels between the encoder (main thread) and its inference workers. Tensors travel as typed arrays
 * whose buffers are transferred, never copied.
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
  /**
   * The model file's bytes, read once by the main thread and transferred here: the session is created from
   * them and they are hashed against `modelSha256`, so that no file can change between the check and the load.
   */
  model: Uint8Array;
  /** The file's name in model.json "files" (for the error when the bytes do not match). */
  modelFile: string;
  /** Its sha256 as model.json lists it. */
  modelSha256: string;
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

/** Seconds a worker spent on each step of its start (hashing runs beside session creation). */
export interface StartTimings {
  hash: number;
  session: number;
  warmup: number;
}

/** A worker's handshake: the provider its session runs on, those tried before it, and its start's timings. */
export interface SessionInfo {
  provider: string;
  attempts: ProviderAttempt[];
  timings: StartTimings;
}

/** One batch's answer. `inputs`: the feeds' buffers, handed back for the next batch (buffer-recycler.ts). */
export interface RunResult {
  data: Float32Array;
  dims: number[];
  seconds: number;
  inputs: ArrayBuffer[];
}

/** For logs and metrics: which model's which encoder. */
export interface EncoderLabel {
  model: string;
  encoder: EncoderKind;
}

/** The feeds' buffers, each once (a transfer list must not name one twice). */
export function distinctBuffers(feeds: FeedTensor[]): ArrayBuffer[] {
  return [...new Set(feeds.map((f) => f.data.buffer as ArrayBuffer))];
}
