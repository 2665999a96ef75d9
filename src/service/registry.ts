import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { inField, notFound } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { createTextCache } from '../models/text-embedder.ts';
import type { ModelInfo, ServedModel } from '../models/types.ts';
import { readPromptSetFile } from '../zeroshot/prompt-sets.ts';
import { loadModel } from './load.ts';
import type { Loaded } from './load.ts';

export interface RegistryDeps {
  logger: Logger;
  metrics: Metrics;
  /** The inference worker module, when not src/engine/worker.ts (tests bring one that can hang or crash). */
  inferenceWorker?: URL;
}

/** Every served model, by id; the first MODEL_DIRS entry is the default. */
export class ModelRegistry {
  readonly defaultId: string;
  readonly #models: Map<string, Loaded>;

  private constructor(models: Loaded[]) {
    this.#models = new Map(models.map((m) => [m.model.id, m]));
    this.defaultId = models[0]!.model.id;
  }

  /**
   * Loads every MODEL_DIRS entry in order (src/service/load.ts). Rejects, after stopping what was started,
   * with an Error naming the model and the failed check.
   */
  static async load(config: Config, deps: RegistryDeps): Promise<ModelRegistry> {
    const servicePromptSets = config.promptSetsFile === undefined ? [] : await readPromptSetFile(config.promptSetsFile, 'service');
    const cache = createTextCache(config.textCacheBytes);
    const models: Loaded[] = [];
    try {
      for (const [i, dir] of config.modelDirs.entries()) {
        const loaded = await loadModel(dir, {
          config,
          logger: deps.logger,
          metrics: deps.metrics,
          cache,
          servicePromptSets,
          isDefault: i === 0,
          ...(deps.inferenceWorker ? { inferenceWorker: deps.inferenceWorker } : {}),
        });
        models.push(loaded);
        const { model } = loaded;
        const duplicate = models.find((m) => m !== loaded && m.model.id === model.id);
        if (duplicate !== undefined) throw new Error(`model id "${model.id}" of ${dir} is already served from ${duplicate.model.dir}`);
        deps.logger.info({ model: model.id, sha256: model.sha256, providers: model.info().providers }, 'model ready');
      }
    } catch (err) {
      await Promise.all(models.map((m) => m.close()));
      throw err;
    }
    return new ModelRegistry(models);
  }

  /** The model with this id, or the default; 404 `model_not_found` for an unknown id. */
  get(id?: string): ServedModel {
    const loaded = this.#models.get(id ?? this.defaultId);
    if (loaded === undefined)
      throw inField('model', notFound(`unknown model "${id}"; GET /models lists the served ones`, 'model_not_found'));
    return loaded.model;
  }

  list(): ModelInfo[] {
    return [...this.#models.values()].map((m) => m.model.info());
  }

  /** Lets queued and running batches finish, then terminates every worker. */
  async close(): Promise<void> {
    await Promise.all([...this.#models.values()].map((m) => m.close()));
  }
}
