import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { EncoderStart } from '../engine/encoder.ts';
import type { Metrics } from '../metrics.ts';

/**
 * The seconds each step of one model's load took, as one log line per step and the gauge
 * unimed_model_load_step_seconds{model,step}: where a cold start goes. Steps overlap (the encoders start
 * together while the small files are verified), so they do not add up to `total`.
 */
export class LoadSteps {
  readonly #model: string;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #started = performance.now();

  constructor(model: string, logger: Logger, metrics: Metrics) {
    this.#model = model;
    this.#logger = logger;
    this.#metrics = metrics;
  }

  record(step: string, seconds: number): void {
    const rounded = Math.round(seconds * 1000) / 1000;
    this.#metrics.modelLoadStepSeconds.set({ model: this.#model, step }, rounded);
    this.#logger.info({ model: this.#model, step, seconds: rounded }, 'model load step');
  }

  async time<T>(step: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    this.record(step, (performance.now() - started) / 1000);
    return result;
  }

  /** An encoder's start, as its first worker measured it: read, hash, session, warm-up. */
  recordEncoder(encoder: 'image' | 'text', start: EncoderStart): void {
    this.record(`${encoder}_read`, start.readSeconds);
    const { hash, session, warmup } = start.timings;
    this.record(`${encoder}_hash`, hash);
    this.record(`${encoder}_session`, session);
    this.record(`${encoder}_warmup`, warmup);
  }

  /** From the start of the load (manifest read) to a model ready to serve. */
  finish(): void {
    this.record('total', (performance.now() - this.#started) / 1000);
  }
}
