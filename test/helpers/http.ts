import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { buildApp } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import type { ModelProvider } from '../../src/http/plugins/state.ts';
import type { ImagePreprocessing } from '../../src/api-types.ts';
import type { ModelInfo, Prediction, PromptSetInfo } from '../../src/models/types.ts';
import { Metrics } from '../../src/metrics.ts';
import { ModelRegistry } from '../../src/service/registry.ts';

// The shared helpers live in ./common.ts; these names stay for the files that import them from here.
export { ROOT, DEMO, testConfig, until, cosine } from './common.ts';

/** A PROMPT_SETS file in a fresh temp dir with the six synthetic modalities. */
export function writePromptSets(): string {
  const dir = mkdtempSync(join(tmpdir(), 'unimed-http-'));
  const file = join(dir, 'prompt_sets.json');
  writeFileSync(
    file,
    JSON.stringify({
      prompt_sets: {
        modality: {
          labels: ['xray', 'ct', 'mri', 'ultrasound', 'histopathology', { name: 'fundus', text: 'retinal fundus' }],
          templates: ['a {} image.', 'a medical {} scan.'],
          description: 'imaging modality',
        },
      },
    }),
  );
  return file;
}

export interface Served {
  url: string;
  registry: ModelRegistry;
  metrics: Metrics;
  close(): Promise<void>;
}

/** A registry for a ready-made config (the older form; new tests use `loadRegistry(env)` from ./common.ts). */
export async function loadRegistry(config: Config, metrics = new Metrics({ defaultMetrics: false })): Promise<ModelRegistry> {
  return ModelRegistry.load(config, { logger: pino({ level: 'silent' }), metrics });
}

/** A real listening app on 127.0.0.1:0 (registry optional: without one it is "starting"). */
export async function listen(config: Config, registry: ModelProvider | undefined, metrics: Metrics) {
  const app = await buildApp({ config, metrics, logger: pino({ level: 'silent' }), ...(registry === undefined ? {} : { registry }) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: address };
}

export interface ErrorBody {
  error: { code: string; message: string };
}
export interface EmbedBody {
  model: string;
  dim: number;
  embeddings: number[][];
  preprocessing: ImagePreprocessing[];
}
export interface ClassifyBody {
  model: string;
  prompt_set?: { name: string; version: string };
  predictions: Prediction[];
  preprocessing: ImagePreprocessing;
}
export interface ModelsBody {
  default: string;
  models: ModelInfo[];
}
export interface PromptSetsBody {
  prompt_sets: PromptSetInfo[];
}

/** The response body as the API document says it is shaped (the tests then check the values). */
export async function json<T = ErrorBody>(res: Response): Promise<T> {
  return (await res.json()) as T;
}
