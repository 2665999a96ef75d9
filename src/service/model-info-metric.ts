import type { Metrics } from '../metrics.ts';

/**
 * The model's `unimed_model_info` series: one per model, labelled with the provider in use and the provider
 * asked for first (`requested_provider`), so an alert can tell a GPU pod that fell back to CPU. A replacement
 * worker may land on another provider, so the series is replaced, never duplicated.
 */
export class ModelInfoSeries {
  readonly #gauge: Metrics['modelInfo'];
  readonly #labels: { model: string; sha256: string; requested_provider: string };
  #provider: string | undefined;

  constructor(metrics: Metrics, model: { id: string; sha256: string }, requestedProvider: string) {
    this.#gauge = metrics.modelInfo;
    this.#labels = { model: model.id, sha256: model.sha256, requested_provider: requestedProvider };
  }

  publish(provider: string): void {
    if (provider === this.#provider) return;
    this.remove();
    this.#provider = provider;
    this.#gauge.set({ ...this.#labels, provider }, 1);
  }

  remove(): void {
    if (this.#provider !== undefined) this.#gauge.remove({ ...this.#labels, provider: this.#provider });
    this.#provider = undefined;
  }
}
