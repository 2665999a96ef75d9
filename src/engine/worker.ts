/**
 * Inference worker entry: owns one onnxruntime session for one encoder. `session.run()` blocks its thread for
 * the whole inference, which is why it lives here and not on the HTTP thread. One message in, one out; the
 * worker knows nothing of batching, queues or requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { createSessionWithFallback } from './providers.ts';
import { distinctBuffers } from './protocol.ts';
import type { FeedTensor, FromWorker, ProviderAttempt, ToWorker, WorkerSetup } from './protocol.ts';

const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error('worker.ts must run as a worker thread');

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function toOrtFeeds(feeds: FeedTensor[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const f of feeds) out[f.name] = new ort.Tensor(f.type, f.data, f.dims);
  return out;
}

async function run(session: ort.InferenceSession, feeds: FeedTensor[]): Promise<{ data: Float32Array; dims: number[] }> {
  const outputs = await session.run(toOrtFeeds(feeds), [setup.outputName]);
  const tensor = outputs[setup.outputName];
  if (tensor === undefined || tensor.type !== 'float32') throw new Error(`the model has no float32 output ${setup.outputName}`);
  const raw = tensor.data as Float32Array;
  // The output normally owns its whole buffer, which is then transferred as is; copy only a view into a larger one.
  const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength && raw.buffer instanceof ArrayBuffer;
  return { data: whole ? raw : new Float32Array(raw), dims: [...tensor.dims] };
}

function sessionOptions(provider: string): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : provider],
    intraOpNumThreads: setup.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: setup.spinning ? '1' : '0' } } },
  };
}

let session: ort.InferenceSession;
let provider: string;
let attempts: ProviderAttempt[];
try {
  ({ session, provider, attempts } = await createSessionWithFallback(setup.providers, (p) =>
    ort.InferenceSession.create(setup.modelPath, sessionOptions(p)),
  ));
  await run(session, setup.warmup);
} catch (err) {
  post({
    type: 'start-failed',
    attempts: (err as { attempts?: ProviderAttempt[] }).attempts ?? [],
    error: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
}
post({ type: 'ready', provider, attempts });

port.on('message', (message: ToWorker) => {
  if (message.type === 'stall') {
    const end = Date.now() + message.ms;
    while (Date.now() < end) {
      // Deliberately blocks the thread (test hook): terminate() must still be able to stop it.
    }
    return;
  }
  const started = performance.now();
  run(session, message.feeds).then(
    ({ data, dims }) => {
      const output = data.buffer as ArrayBuffer;
      const inputs = distinctBuffers(message.feeds).filter((buffer) => buffer !== output);
      post({ type: 'result', id: message.id, data, dims, seconds: (performance.now() - started) / 1000, inputs }, [output, ...inputs]);
    },
    (err: unknown) => {
      post({ type: 'run-failed', id: message.id, error: err instanceof Error ? err.message : String(err) });
    },
  );
});
