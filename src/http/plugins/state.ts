import { unavailable } from '../../errors.ts';
import type { ModelInfo, ServedModel } from '../../models/types.ts';

/** What the HTTP layer needs from the model registry (src/service/registry.ts implements it). */
export interface ModelProvider {
  readonly defaultId: string;
  /** Throws a 404 ServiceError for an unknown id; the default model without one. */
  get(id?: string): ServedModel;
  list(): ModelInfo[];
  close(): Promise<void>;
}

/**
 * The service's lifecycle as the HTTP layer sees it: starting (no registry yet), ready, draining. Also counts
 * the inference requests in progress so that shutdown can wait for them.
 */
export class ServiceState {
  #registry: ModelProvider | undefined;
  #draining = false;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  #registryWaiters: (() => void)[] = [];

  get registry(): ModelProvider | undefined {
    return this.#registry;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get ready(): boolean {
    return this.#registry !== undefined && !this.#draining;
  }

  get inflight(): number {
    return this.#inflight;
  }

  setRegistry(registry: ModelProvider): void {
    this.#registry = registry;
    for (const resolve of this.#registryWaiters.splice(0)) resolve();
  }

  /** Resolves once the models are loaded (at once if they are). */
  untilRegistry(): Promise<void> {
    if (this.#registry !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.#registryWaiters.push(resolve));
  }

  /** Readiness turns 503 and new inference requests are refused from now on. */
  startDraining(): void {
    this.#draining = true;
  }

  /** The registry for a new inference request, or the 503 that says why there is none. */
  acceptWork(): ModelProvider {
    if (this.#draining) throw unavailable('the service is shutting down', 'shutting_down', 1);
    if (this.#registry === undefined) throw unavailable('models are still loading', 'not_ready', 5);
    return this.#registry;
  }

  /** The registry for a read-only request (/models, /prompt-sets), which still answers while draining. */
  requireRegistry(): ModelProvider {
    if (this.#registry === undefined) throw unavailable('models are still loading', 'not_ready', 5);
    return this.#registry;
  }

  beginWork(): void {
    this.#inflight += 1;
  }

  endWork(): void {
    this.#inflight -= 1;
    if (this.#inflight === 0) for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Resolves true once no inference request is in progress, false if `timeoutMs` passes first. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.#idleWaiters.push(wake);
    });
  }
}
