import type { LabelSpec, Prediction } from '../models/types.ts';
import { dot, l2normalize } from '../vectors.ts';

/**
 * The paper's template ensemble: the class embedding is the re-normalized mean of its L2-normalized template
 * embeddings.
 */
export function ensemble(templateEmbeddings: Float32Array[]): Float32Array {
  const dim = templateEmbeddings[0]?.length ?? 0;
  const mean = new Float32Array(dim);
  for (const e of templateEmbeddings) {
    let sum = 0;
    for (const x of e) sum += x * x;
    const norm = Math.sqrt(sum) || 1;
    for (let i = 0; i < dim; i++) mean[i] = mean[i]! + e[i]! / norm;
  }
  return l2normalize(mean);
}

/**
 * A template holds `{}` exactly once: with several, each copy is the label again, so a short request could ask
 * for prompts of megabytes.
 */
export function hasOnePlaceholder(template: string): boolean {
  const first = template.indexOf('{}');
  return first !== -1 && template.indexOf('{}', first + 2) === -1;
}

/** The prompt of one label and template (which holds `{}` once): `{}` replaced by the label's text. */
export function fillTemplate(template: string, label: LabelSpec): string {
  return template.replace('{}', () => label.text);
}

/**
 * Zero-shot scores: probability = softmax over the labels of logitScale x cosine (both embeddings are unit
 * vectors), sorted by probability descending and cut to topK. Probabilities are relative to the labels given.
 */
export function classify(
  imageEmbedding: Float32Array,
  classEmbeddings: Float32Array[],
  labels: LabelSpec[],
  logitScale: number,
  topK?: number,
): Prediction[] {
  if (classEmbeddings.length !== labels.length) throw new Error(`${classEmbeddings.length} class embeddings for ${labels.length} labels`);
  const similarities = classEmbeddings.map((c) => dot(imageEmbedding, c));
  const logits = similarities.map((s) => logitScale * s);
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  const predictions = labels.map((label, i) => ({ label: label.name, probability: exps[i]! / total, similarity: similarities[i]! }));
  // Stable sort: equal probabilities keep the caller's label order.
  predictions.sort((a, b) => b.probability - a.probability);
  return topK === undefined ? predictions : predictions.slice(0, Math.max(0, topK));
}

/** Every label put into every template, label-major: the texts whose embeddings make the class embeddings. */
export function prompts(labels: readonly LabelSpec[], templates: readonly string[]): string[] {
  return labels.flatMap((label) => templates.map((template) => fillTemplate(template, label)));
}

/** The class embedding of each label from the embeddings of prompts(labels, templates), in that order. */
export function classEmbeddingsOf(embeddings: Float32Array[], labels: number, templates: number): Float32Array[] {
  if (embeddings.length !== labels * templates)
    throw new Error(`${embeddings.length} prompt embeddings for ${labels} labels x ${templates} templates`);
  return Array.from({ length: labels }, (_, i) => ensemble(embeddings.slice(i * templates, (i + 1) * templates)));
}
