import type { Metrics } from '../metrics.ts';

/**
 * The model's `unimed_model_info` series: one per model, labelled with the provider in use. A replacement
 * worker may land on another provider, so the series is replaced, never duplicated.
 */
export class ModelInfoSeries {
  readonly #gauge: Metrics['modelInfo'];
  readonly #model: { id: string; sha256: string };
  #provider: string | undefined;

  constructor(metrics: Metrics, model: { id: string; sha256: string }) {
    this.#gauge = metrics.modelInfo;
    this.#model = model;
  }

  publish(provider: string): void {
    if (provider === this.#provider) return;
    this.remove();
    this.#provider = provider;
    this.#gauge.set({ model: this.#model.id, sha256: this.#model.sha256, provider }, 1);
  }

  remove(): void {
    if (this.#provider !== undefined) this.#gauge.remove({ model: this.#model.id, sha256: this.#model.sha256, provider: this.#provider });
    this.#provider = undefined;
  }
}
