/**
 * The seam between the HTTP layer and the model/engine side. Routes only see these types; everything behind
 * them (workers, batching, tokenizer, cache, prompt sets) is the registry's business.
 */

import type { ImagePixels } from '../engine/feeds.ts';
import type { Cancellation } from '../engine/request-group.ts';
import type { Calibration } from './calibration.ts';

export type { Cancellation };

/** Text work: its cancellation, and which part of the text-embedding cache it may read and fill. */
export interface TextWork extends Cancellation {
  /**
   * The cache partition (an API key id when keys are configured and TEXT_CACHE_SHARED is off): texts cached for
   * one partition are a miss, and are not awaited in flight, for another. Undefined: the shared partition.
   */
  readonly cachePartition?: string;
}

/** A class in a zero-shot problem: the label returned, and the text put into the templates. */
export interface LabelSpec {
  name: string;
  text: string;
}

export interface Prediction {
  label: string;
  /** softmax over the labels of logit_scale x cosine. */
  probability: number;
  /** cosine similarity of the L2-normalized embeddings. */
  similarity: number;
}

export interface PromptSetInfo {
  name: string;
  /** sha256 (hex, 16 chars) of the set's content and the model sha256. */
  version: string;
  model: string;
  labels: string[];
  templates: string[];
  description?: string;
  /** 'model' for a model directory's prompt_sets.json, 'service' for the PROMPT_SETS file. */
  source: 'model' | 'service';
}

export interface ModelInfo {
  id: string;
  sha256: string;
  embed_dim: number;
  image_size: number;
  context_length: number;
  logit_scale: number;
  providers: { image: string; text: string };
  intended_use: string;
  /** model.json's `diagnostic_use` (false when absent): only a model that says so is presented as diagnostic. */
  diagnostic_use: boolean;
  default: boolean;
  /** Its calibration (docs/trust.md): the file's sha256, the prompt sets it calibrates, the out-of-distribution threshold. */
  calibration: { id: string; prompt_sets: string[]; ood_threshold: number } | null;
}

export interface ImageTensorSpec {
  size: number;
  mean: [number, number, number];
  std: [number, number, number];
}

/** Text embeddings and the number of tokens their texts came to. */
export interface CountedEmbeddings {
  embeddings: Float32Array[];
  tokens: number;
}

export interface ServedModel {
  readonly id: string;
  /** The model sha256 as models/README.md defines it. */
  readonly sha256: string;
  readonly embedDim: number;
  readonly logitScale: number;
  /** Its calibration.json (docs/trust.md), checked at load; undefined without one. */
  readonly calibration: Calibration | undefined;
  /** What the image decoder needs to build the model's input tensor. */
  readonly imageSpec: ImageTensorSpec;
  /** model.json's `embedding_truncation`: whether its embeddings may be cut to fewer dimensions (false for CLIP's). */
  readonly embeddingTruncation: boolean;
  /** When the model was exported (Unix seconds, model.json's `provenance.exported_at`), if known. */
  readonly exportedAt: number | undefined;
  info(): ModelInfo;
  /** Whether both encoders have a live worker (false while all of one's workers are dead or failing to restart). */
  live(): boolean;
  /** `pixels`: one CHW float32 tensor (3 x S x S) per image, normalized (or written so at stacking). Returns L2-normalized embeddings. */
  embedImages(pixels: ImagePixels[], options?: Cancellation): Promise<Float32Array[]>;
  /** Cleans, tokenizes, embeds (through the text cache); returns L2-normalized embeddings in input order. */
  embedTexts(texts: string[], options?: TextWork): Promise<Float32Array[]>;
  /** embedTexts, and the tokens the texts came to: every text counted, repeats too, [CLS] and [SEP] included, after truncation. */
  embedTextsCounted(texts: string[], options?: TextWork): Promise<CountedEmbeddings>;
  /** Classes from inline labels and templates (the paper's template ensemble), through the same cache. */
  classEmbeddings(labels: LabelSpec[], templates: string[], options?: TextWork): Promise<Float32Array[]>;
  /** A prompt set with its class embeddings computed at start; undefined when this model has no such set. */
  promptSet(name: string): { info: PromptSetInfo; labels: LabelSpec[]; classEmbeddings: Float32Array[] } | undefined;
  promptSets(): PromptSetInfo[];
  /** Predictions sorted by probability, descending, cut to topK when given. */
  classify(imageEmbedding: Float32Array, classEmbeddings: Float32Array[], labels: LabelSpec[], topK?: number): Prediction[];
}
