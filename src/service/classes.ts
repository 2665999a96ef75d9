/** The classes a classification scores: a named prompt set's, or inline labels put into templates. */
import { badRequest, inField, notFound, tooLarge } from '../errors.ts';
import type { LabelSpec, ServedModel, TextWork } from '../models/types.ts';
import { hasOnePlaceholder } from '../zeroshot/scoring.ts';
import { canonicalPromptText, checkTextLengths } from './text-limits.ts';

export type LabelInput = string | { name: string; text: string };

/** The classification fields of a request (schema ClassifyRequest less the image and the rendering parameters). */
export interface ClassifyFields {
  labels?: LabelInput[];
  templates?: string[];
  prompt_set?: string;
  top_k?: number;
  model?: string;
  /** The prediction set's coverage (docs/trust.md). */
  coverage?: number;
  /** Abstain (low_confidence) below this top probability. */
  min_probability?: number;
}

export interface ClassLimits {
  /** MAX_PROMPTS_PER_CLASSIFY: labels x templates. */
  promptsPerClassify: number;
  /** MAX_CHARS_PER_TEXT. */
  charsPerText: number;
}

export interface Classes {
  labels: LabelSpec[];
  promptSet?: { name: string; version: string };
  /** The templates of inline labels (a prompt set brings its own): part of what an SR's UIDs are derived from. */
  templates?: string[];
  embed(work: TextWork): Promise<Float32Array[]>;
}

/** Inline labels without templates are embedded as the label text alone. */
const DEFAULT_TEMPLATES: readonly string[] = ['{}'];

/** Labels in their canonical form (NFC, no invisible controls), so that a look-alike cannot be a second class. */
function labelSpecs(labels: LabelInput[]): LabelSpec[] {
  const specs = labels.map((l, i) => {
    const name = canonicalPromptText(typeof l === 'string' ? l : l.name, 'label', i, 'labels');
    return { name, text: typeof l === 'string' ? name : canonicalPromptText(l.text, 'label', i, 'labels') };
  });
  const seen = new Set<string>();
  for (const { name } of specs) {
    if (seen.has(name)) throw inField('labels', badRequest(`label "${name}" is given twice`));
    seen.add(name);
  }
  return specs;
}

/**
 * Every label and template within MAX_CHARS_PER_TEXT, every template holding `{}` once, and the longest label in
 * the longest template (the longest prompt) within it too: what the text encoder reads is bounded like any text.
 */
function checkPrompts(labels: LabelSpec[], templates: string[], max: number): void {
  const label = checkTextLengths(
    labels.map((l) => l.text),
    max,
    'label',
    'labels',
  );
  const template = checkTextLengths(templates, max, 'template', 'templates');
  templates.forEach((t, i) => {
    if (!hasOnePlaceholder(t))
      throw inField('templates', badRequest(`template ${i} must contain "{}" exactly once (where the label goes)`));
  });
  if (label.chars + template.chars - 2 > max) {
    const message = `label ${label.index} in template ${template.index} makes a prompt longer than MAX_CHARS_PER_TEXT (${max} characters)`;
    throw inField('labels', tooLarge(message, 'text_too_long'));
  }
}

/** Exactly one source of classes: inline labels (with their templates) or a prompt set (which brings its own). */
export function checkClassSource(fields: ClassifyFields): void {
  if (fields.labels !== undefined && fields.prompt_set !== undefined)
    throw inField('prompt_set', badRequest('give either labels or prompt_set, not both'));
  if (fields.labels === undefined && fields.prompt_set === undefined) throw inField('labels', badRequest('give labels or a prompt_set'));
  if (fields.templates !== undefined && fields.prompt_set !== undefined) {
    throw inField('templates', badRequest('templates cannot be combined with prompt_set: the prompt set brings its own'));
  }
}

/** The classes to score: a prompt set's (embedded at start) or inline labels x templates (through the cache). */
export function resolveClasses(model: ServedModel, fields: ClassifyFields, limits: ClassLimits): Classes {
  if (fields.prompt_set !== undefined) {
    const set = model.promptSet(fields.prompt_set);
    if (set === undefined)
      throw inField('prompt_set', notFound(`model "${model.id}" has no prompt set "${fields.prompt_set}"`, 'prompt_set_not_found'));
    return {
      labels: set.labels,
      promptSet: { name: set.info.name, version: set.info.version },
      embed: () => Promise.resolve(set.classEmbeddings),
    };
  }
  const labels = labelSpecs(fields.labels ?? []);
  const templates = (fields.templates ?? DEFAULT_TEMPLATES).map((t, i) => canonicalPromptText(t, 'template', i, 'templates'));
  const prompts = labels.length * templates.length;
  if (prompts > limits.promptsPerClassify) {
    const message = `${labels.length} labels x ${templates.length} templates = ${prompts} prompts, MAX_PROMPTS_PER_CLASSIFY allows ${limits.promptsPerClassify}`;
    throw inField('labels', tooLarge(message, 'too_many_prompts'));
  }
  checkPrompts(labels, templates, limits.charsPerText);
  return { labels, templates, embed: (work) => model.classEmbeddings(labels, templates, work) };
}
