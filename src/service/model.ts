import type { Encoder } from '../engine/encoder.ts';
import { badRequest } from '../errors.ts';
import type { Calibration } from '../models/calibration.ts';
import type { Manifest } from '../models/manifest.ts';
import type { TextEmbedder } from '../models/text-embedder.ts';
import type {
  Cancellation,
  CountedEmbeddings,
  ImageTensorSpec,
  LabelSpec,
  ModelInfo,
  Prediction,
  PromptSetInfo,
  ServedModel,
  TextWork,
} from '../models/types.ts';
import { classEmbeddingsOf, classify, prompts } from '../zeroshot/scoring.ts';
import type { ImagePixels } from '../engine/feeds.ts';

export interface LoadedPromptSet {
  info: PromptSetInfo;
  labels: LabelSpec[];
  classEmbeddings: Float32Array[];
}

export interface ModelParts {
  dir: string;
  manifest: Manifest;
  sha256: string;
  isDefault: boolean;
  image: Encoder<ImagePixels>;
  textEncoder: Encoder<number[]>;
  text: TextEmbedder;
  /** A client's request may cost this many tokens at most (MAX_TOKENS_PER_REQUEST); the service's own work is not bounded by it. */
  maxTokensPerRequest: number;
}

/** A verified, started model as the routes see it: its encoders, text embedder and prompt sets. */
export class Model implements ServedModel {
  readonly id: string;
  readonly sha256: string;
  readonly embedDim: number;
  readonly logitScale: number;
  readonly imageSpec: ImageTensorSpec;
  readonly embeddingTruncation: boolean;
  readonly exportedAt: number | undefined;
  readonly dir: string;
  readonly #parts: ModelParts;
  readonly #promptSets = new Map<string, LoadedPromptSet>();
  #calibration: Calibration | undefined;

  constructor(parts: ModelParts) {
    const { manifest } = parts;
    this.#parts = parts;
    this.dir = parts.dir;
    this.id = manifest.id;
    this.sha256 = parts.sha256;
    this.embedDim = manifest.embed_dim;
    this.logitScale = manifest.logit_scale;
    this.imageSpec = { size: manifest.image.size, mean: manifest.image.mean, std: manifest.image.std };
    this.embeddingTruncation = manifest.embedding_truncation;
    this.exportedAt = manifest.exported_at;
  }

  live(): boolean {
    return this.#parts.image.live && this.#parts.textEncoder.live;
  }

  /** The execution provider in use: one name, or both when the encoders differ. */
  get provider(): string {
    const { image, textEncoder } = this.#parts;
    return image.provider === textEncoder.provider ? image.provider : `image:${image.provider},text:${textEncoder.provider}`;
  }

  addPromptSet(set: LoadedPromptSet): void {
    this.#promptSets.set(set.info.name, set);
  }

  /** Set once at load, after the prompt sets it was checked against. */
  attachCalibration(calibration: Calibration): void {
    this.#calibration = calibration;
  }

  get calibration(): Calibration | undefined {
    return this.#calibration;
  }

  info(): ModelInfo {
    const { manifest, image, textEncoder, isDefault } = this.#parts;
    return {
      id: this.id,
      sha256: this.sha256,
      embed_dim: this.embedDim,
      image_size: this.imageSpec.size,
      context_length: manifest.text.context_length,
      logit_scale: this.logitScale,
      providers: { image: image.provider, text: textEncoder.provider },
      intended_use: manifest.intended_use,
      diagnostic_use: manifest.diagnostic_use,
      default: isDefault,
      calibration:
        this.#calibration === undefined
          ? null
          : {
              id: this.#calibration.id,
              prompt_sets: [...this.#calibration.promptSets.keys()],
              ood_threshold: this.#calibration.ood.threshold,
            },
    };
  }

  embedImages(pixels: ImagePixels[], work?: Cancellation): Promise<Float32Array[]> {
    const expected = 3 * this.imageSpec.size * this.imageSpec.size;
    for (const p of pixels) {
      if (p.length !== expected)
        return Promise.reject(
          badRequest(`an image tensor must have ${expected} values (3 x ${this.imageSpec.size} x ${this.imageSpec.size})`),
        );
    }
    return this.#parts.image.embed(pixels, work);
  }

  embedTexts(texts: string[], work?: TextWork): Promise<Float32Array[]> {
    return this.#parts.text.embed(texts, work, this.#parts.maxTokensPerRequest);
  }

  embedTextsCounted(texts: string[], work?: TextWork): Promise<CountedEmbeddings> {
    return this.#parts.text.embedCounted(texts, work, this.#parts.maxTokensPerRequest);
  }

  async classEmbeddings(labels: LabelSpec[], templates: string[], work?: TextWork): Promise<Float32Array[]> {
    const embeddings = await this.#parts.text.embed(prompts(labels, templates), work, this.#parts.maxTokensPerRequest);
    return classEmbeddingsOf(embeddings, labels.length, templates.length);
  }

  promptSet(name: string): LoadedPromptSet | undefined {
    return this.#promptSets.get(name);
  }

  promptSets(): PromptSetInfo[] {
    return [...this.#promptSets.values()].map((s) => s.info);
  }

  classify(imageEmbedding: Float32Array, classEmbeddings: Float32Array[], labels: LabelSpec[], topK?: number): Prediction[] {
    return classify(imageEmbedding, classEmbeddings, labels, this.logitScale, topK);
  }
}
