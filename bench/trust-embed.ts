/**
 * Embeddings for bench/trust.py through the model directory's own ONNX graphs in onnxruntime-node (the runtime the
 * service uses), so that the trust figures are measured on what is served, not on a PyTorch re-implementation.
 *
 *   node bench/trust-embed.ts JOB.json
 *
 * JOB: { modelDir, threads?, images?: { file, n }, texts?: { ids: number[][] }, out }
 * `images.file` holds n preprocessed images, float32 little-endian [n, 3, S, S] (S and the normalisation from
 * model.json, done by training/image.py); `texts.ids` are token ids ([CLS] ... [SEP]), padded here per batch.
 * Writes `out` + '.image.f32' ([n, D] float32, not normalised) and `out` + '.text.f32' ([m, D]) and prints one JSON
 * line { image: [n, D], text: [m, D] }.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

interface Job {
  modelDir: string;
  threads?: number;
  images?: { file: string; n: number };
  texts?: { ids: number[][] };
  out: string;
}

interface ModelJson {
  embed_dim: number;
  image: { file: string; input: string; output: string; size: number };
  text: { file: string; input_ids: string; attention_mask: string; output: string; pad_id: number };
}

const BATCH = 64;

async function session(path: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: ['cpu'] });
}

async function embedImages(m: ModelJson, dir: string, job: Job, threads: number): Promise<Float32Array> {
  const spec = job.images!;
  const s = m.image.size;
  const per = 3 * s * s;
  const buf = readFileSync(spec.file);
  const all = new Float32Array(buf.buffer, buf.byteOffset, spec.n * per);
  const sess = await session(join(dir, m.image.file), threads);
  const out = new Float32Array(spec.n * m.embed_dim);
  for (let i = 0; i < spec.n; i += BATCH) {
    const k = Math.min(BATCH, spec.n - i);
    const x = new ort.Tensor('float32', all.slice(i * per, (i + k) * per), [k, 3, s, s]);
    const r = await sess.run({ [m.image.input]: x });
    out.set(r[m.image.output]!.data as Float32Array, i * m.embed_dim);
  }
  await sess.release();
  return out;
}

async function embedTexts(m: ModelJson, dir: string, job: Job, threads: number): Promise<Float32Array> {
  const ids = job.texts!.ids;
  const sess = await session(join(dir, m.text.file), threads);
  const out = new Float32Array(ids.length * m.embed_dim);
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    const len = Math.max(...batch.map((t) => t.length));
    const a = new BigInt64Array(batch.length * len).fill(BigInt(m.text.pad_id));
    const mask = new BigInt64Array(batch.length * len);
    batch.forEach((t, j) => t.forEach((v, p) => ((a[j * len + p] = BigInt(v)), (mask[j * len + p] = 1n))));
    const r = await sess.run({
      [m.text.input_ids]: new ort.Tensor('int64', a, [batch.length, len]),
      [m.text.attention_mask]: new ort.Tensor('int64', mask, [batch.length, len]),
    });
    out.set(r[m.text.output]!.data as Float32Array, i * m.embed_dim);
  }
  await sess.release();
  return out;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const model = JSON.parse(readFileSync(join(job.modelDir, 'model.json'), 'utf8')) as ModelJson;
const threads = job.threads ?? 1;
const shape: Record<string, number[]> = {};
if (job.images) {
  const e = await embedImages(model, job.modelDir, job, threads);
  writeFileSync(job.out + '.image.f32', e);
  shape.image = [job.images.n, model.embed_dim];
}
if (job.texts) {
  const e = await embedTexts(model, job.modelDir, job, threads);
  writeFileSync(job.out + '.text.f32', e);
  shape.text = [job.texts.ids.length, model.embed_dim];
}
console.log(JSON.stringify(shape));
