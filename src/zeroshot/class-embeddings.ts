import type { LabelSpec } from '../models/types.ts';
import { ensemble, fillTemplate } from './scoring.ts';

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
