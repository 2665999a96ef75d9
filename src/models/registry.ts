import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { notFound } from '../errors.ts';
import type { Metrics } from '../metrics.ts';
import { readPromptSetFile } from '../zeroshot/prompt-sets.ts';
import { LoadedModel } from './served-model.ts';
import type { EngineDebug } from './served-model.ts';
import { TextEmbeddingCache } from './text-cache.ts';
import type { ModelInfo, ServedModel } from './types.ts';

/** Every served model, by id; the first MODEL_DIRS entry is the default. */
export class ModelRegistry {
  readonly defaultId: string;
  readonly #models: Map<string, LoadedModel>;

  private constructor(models: LoadedModel[]) {
    this.#models = new Map(models.map((m) => [m.id, m]));
    this.defaultId = models[0]!.id;
  }

  /**
   * Loads every MODEL_DIRS entry in order: verification, workers (provider fallback, warm-up), golden check,
   * prompt sets. Rejects, after stopping what was started, with an Error naming the model and the failed check.
   */
  static async load(config: Config, deps: { logger: Logger; metrics: Metrics }): Promise<ModelRegistry> {
    const servicePromptSets = config.promptSetsFile === undefined ? [] : await readPromptSetFile(config.promptSetsFile, 'service');
    const cache = new TextEmbeddingCache(config.textCacheBytes);
    const models: LoadedModel[] = [];
    try {
      for (const [i, dir] of config.modelDirs.entries()) {
        const model = await LoadedModel.load(dir, { config, logger: deps.logger, metrics: deps.metrics, cache, servicePromptSets, isDefault: i === 0 });
        models.push(model);
        const duplicate = models.find((m) => m !== model && m.id === model.id);
        if (duplicate !== undefined) throw new Error(`model id "${model.id}" of ${dir} is already served from ${duplicate.dir}`);
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
    return this.#loaded(id);
  }

  list(): ModelInfo[] {
    return [...this.#models.values()].map((m) => m.info());
  }

  /** Test hooks reaching the real workers and batchers of a model (see EngineDebug). */
  debug(id?: string): EngineDebug {
    return this.#loaded(id).debug;
  }

  /** Lets queued and running batches finish, then terminates every worker. */
  async close(): Promise<void> {
    await Promise.all([...this.#models.values()].map((m) => m.close()));
  }

  #loaded(id?: string): LoadedModel {
    const model = this.#models.get(id ?? this.defaultId);
    if (model === undefined) throw notFound(`unknown model "${id}"; GET /models lists the served ones`, 'model_not_found');
    return model;
  }
}
