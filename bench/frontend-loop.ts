/**
 * The front end's own limit (issue 26): a plain loop that decodes the same 512 x 512 JPEG and makes the model's
 * input tensor (shorter side to S bicubic, centre crop, CHW float32 normalized) with sharp, as many at once as
 * the libuv pool has threads (twice, so none idles), no HTTP, no batching. Runs as its own process
 * (`node bench/frontend-loop.ts ARGS.json`, under taskset for the scaling table); prints one JSON line. Before
 * timing it checks that its tensor is the service's (src/inputs/decode.ts) bit for bit.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { decodeImage } from '../src/inputs/decode.ts';
import { tensorOf } from '../src/engine/feeds.ts';
import { normalizeToChw, transformGeometry } from '../src/inputs/transform.ts';
import type { ImageTensorSpec } from '../src/models/types.ts';

export interface FrontendLoopArgs {
  jpeg: string;
  spec: ImageTensorSpec;
  seconds: number;
}

export interface FrontendLoopResult {
  imagesPerSecond: number;
  images: number;
  seconds: number;
  /** Pipelines in flight, libuv pool threads, CPUs the process may use. */
  inFlight: number;
  threadpool: number;
  cpus: number;
  sameTensorAsService: boolean;
  /** CPU milliseconds per image of the whole process (all threads), over the measured window. */
  cpuMsPerImage: number;
}

const RESIZE = { kernel: 'cubic', fit: 'fill', fastShrinkOnLoad: false } as const;

async function tensor(jpeg: Buffer, spec: ImageTensorSpec, width: number, height: number): Promise<Float32Array> {
  const t = transformGeometry(width, height, spec.size);
  let pipeline = sharp(jpeg).pipelineColourspace('srgb');
  if (t.resize !== null) pipeline = pipeline.resize(t.resize.width, t.resize.height, RESIZE);
  const { data } = await pipeline.extract(t.crop).toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return normalizeToChw(data, spec.size, spec);
}

export async function runFrontendLoop(a: FrontendLoopArgs): Promise<FrontendLoopResult> {
  const jpeg = readFileSync(a.jpeg);
  const meta = await sharp(jpeg).metadata();
  const mine = await tensor(jpeg, a.spec, meta.width, meta.height);
  const service = await decodeImage({ bytes: jpeg }, a.spec, { imagePixels: 1 << 28, decoder: undefined });
  const serviceTensor = tensorOf(service.pixels);
  const sameTensorAsService = mine.length === serviceTensor.length && mine.every((v, i) => v === serviceTensor[i]);
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const inFlight = 2 * threadpool;
  let images = 0;
  let measuring = false;
  const warmupEnd = performance.now() + 500;
  let start = 0;
  let cpuStart = process.cpuUsage();
  let end = 0;
  const lane = async (): Promise<void> => {
    for (;;) {
      await tensor(jpeg, a.spec, meta.width, meta.height);
      const now = performance.now();
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        cpuStart = process.cpuUsage();
        start = now;
        end = start + a.seconds * 1000;
        continue;
      }
      if (!measuring) continue;
      if (now > end) return;
      images++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (end - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuMsPerImage = (cpu.user + cpu.system) / 1000 / Math.max(1, images);
  return {
    imagesPerSecond: images / seconds,
    images,
    seconds,
    inFlight,
    threadpool,
    cpus: availableParallelism(),
    sameTensorAsService,
    cpuMsPerImage,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FrontendLoopArgs;
  process.stdout.write(`${JSON.stringify(await runFrontendLoop(args))}\n`);
}
