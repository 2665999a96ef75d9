/**
 * The inside of an inference worker: one onnxruntime session for one encoder. `session.run()` blocks its
 * thread for the whole inference, which is why it runs in a worker thread and not on the HTTP thread. It knows
 * nothing of batching, queues or requests: one batch of feeds in, one output out.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import type { TaskServer } from '../workers/serve.ts';
import { distinctBuffers } from './protocol.ts';
import type { FeedTensor, ProviderAttempt, RunResult, SessionInfo, WorkerSetup } from './protocol.ts';

function toOrtFeeds(feeds: FeedTensor[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const f of feeds) out[f.name] = new ort.Tensor(f.type, f.data, f.dims);
  return out;
}

/** onnxruntime session options for one provider (exported so the spinning setting can be checked). */
export function sessionOptions(setup: WorkerSetup, provider: string): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : provider],
    intraOpNumThreads: setup.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: setup.spinning ? '1' : '0' } } },
  };
}

async function run(
  session: ort.InferenceSession,
  outputName: string,
  feeds: FeedTensor[],
): Promise<{ data: Float32Array; dims: number[] }> {
  const outputs = await session.run(toOrtFeeds(feeds), [outputName]);
  const tensor = outputs[outputName];
  if (tensor === undefined || tensor.type !== 'float32') throw new Error(`the model has no float32 output ${outputName}`);
  const raw = tensor.data as Float32Array;
  // The output normally owns its whole buffer, which is then transferred as is; copy only a view into a larger one.
  const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer;
  return { data: whole ? raw : new Float32Array(raw), dims: [...tensor.dims] };
}

const seconds = (since: number): number => (performance.now() - since) / 1000;

/**
 * sha256 of the bytes, on this thread before the session is created. WebCrypto's digest would run beside session
 * creation on the thread pool, but it copies its input first, and with both encoders' workers creating sessions
 * on 2 cores it took longer than the session itself (5.3 s against 3.6 s for the full-size image encoder).
 */
function sha256Hex(bytes: Uint8Array): { sha256: string; seconds: number } {
  const started = performance.now();
  return { sha256: createHash('sha256').update(bytes).digest('hex'), seconds: seconds(started) };
}

/**
 * Checks the model bytes against model.json's sha256 (refusing to start when they differ), creates the session
 * (first provider that loads) from those same bytes, warms it up, and serves batches. The two encoders' workers
 * do this at the same time, so one's hashing runs beside the other's session creation.
 */
export async function startInferenceSession(setup: WorkerSetup): Promise<TaskServer<SessionInfo, FeedTensor[], RunResult>> {
  const hash = sha256Hex(setup.model);
  if (hash.sha256 !== setup.modelSha256) {
    throw new Error(`file check failed: ${setup.modelFile} has sha256 ${hash.sha256}, model.json says ${setup.modelSha256}`);
  }
  const creating = performance.now();
  const { session, provider, attempts } = await createSessionWithFallback(setup.providers, (p) =>
    ort.InferenceSession.create(setup.model, sessionOptions(setup, p)),
  );
  const sessionSeconds = seconds(creating);
  // onnxruntime parsed the bytes into its own copy: free them, or workerData would hold the file for the worker's life.
  (setup.model.buffer as ArrayBuffer).transfer(0);
  const warming = performance.now();
  await run(session, setup.outputName, setup.warmup);
  return {
    info: { provider, attempts, timings: { hash: hash.seconds, session: sessionSeconds, warmup: seconds(warming) } },
    async handle(feeds) {
      const started = performance.now();
      const { data, dims } = await run(session, setup.outputName, feeds);
      const output = data.buffer as ArrayBuffer;
      const inputs = distinctBuffers(feeds).filter((buffer) => buffer !== output);
      return { result: { data, dims, seconds: (performance.now() - started) / 1000, inputs }, transfer: [output, ...inputs] };
    },
  };
}

type SessionFactory = (provider: string) => Promise<ort.InferenceSession>;

/**
 * Creates a session with the first execution provider that loads, in the configured order. onnxruntime-node
 * rejects session creation when a provider's library cannot load (no CUDA on the machine, no WebGPU adapter),
 * so each rejection is recorded (provider + onnxruntime's message) and the next provider is tried.
 */
export async function createSessionWithFallback(
  providers: readonly string[],
  create: SessionFactory,
): Promise<{ session: ort.InferenceSession; provider: string; attempts: ProviderAttempt[] }> {
  const attempts: ProviderAttempt[] = [];
  for (const provider of providers) {
    try {
      return { session: await create(provider), provider, attempts };
    } catch (err) {
      attempts.push({ provider, error: err instanceof Error ? err.message : String(err) });
    }
  }
  const tried = attempts.map((a) => `${a.provider}: ${a.error}`).join('; ');
  throw Object.assign(new Error(`no execution provider could create a session (${tried})`), { detail: attempts });
}
