import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { LabelSpec, PromptSetInfo } from '../models/types.ts';
import { hasOnePlaceholder } from './scoring.ts';

/** A prompt set as written in prompt_sets.json or the PROMPT_SETS file, validated. */
export interface PromptSetDefinition {
  name: string;
  labels: LabelSpec[];
  templates: string[];
  description?: string;
  source: PromptSetInfo['source'];
}

function fail(origin: string, where: string, what: string): never {
  throw new Error(`${origin}: prompt set ${where} ${what}`);
}

/** Validates `{"prompt_sets": {name: {labels, templates, description?}}}` (models/README.md). */
export function parsePromptSets(doc: unknown, origin: string, source: PromptSetInfo['source']): PromptSetDefinition[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${origin}: must be an object with "prompt_sets"`);
  const sets = (doc as Record<string, unknown>).prompt_sets;
  if (typeof sets !== 'object' || sets === null || Array.isArray(sets))
    throw new Error(`${origin}: "prompt_sets" must be an object of named sets`);
  return Object.entries(sets as Record<string, unknown>).map(([name, raw]) => {
    const where = `"${name}"`;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
      fail(origin, where, 'has a name that is not 1-64 letters, digits, ".", "_" or "-"');
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(origin, where, 'must be an object');
    const { labels, templates, description } = raw as Record<string, unknown>;
    if (!Array.isArray(labels) || labels.length < 2) fail(origin, where, 'needs "labels": an array of at least 2 labels');
    const specs = labels.map((label: unknown, i): LabelSpec => {
      if (typeof label === 'string' && label.trim() !== '') return { name: label, text: label };
      if (typeof label === 'object' && label !== null) {
        const { name: n, text } = label as Record<string, unknown>;
        if (typeof n === 'string' && n.trim() !== '' && typeof text === 'string' && text.trim() !== '') return { name: n, text };
      }
      return fail(origin, where, `label ${i} must be a non-empty string or {"name", "text"}`);
    });
    const names = new Set(specs.map((s) => s.name));
    if (names.size !== specs.length) fail(origin, where, 'has duplicate label names');
    if (!Array.isArray(templates) || templates.length === 0) fail(origin, where, 'needs "templates": a non-empty array');
    templates.forEach((t: unknown, i) => {
      if (typeof t !== 'string' || !hasOnePlaceholder(t))
        fail(origin, where, `template ${i} must be a string containing "{}" exactly once`);
    });
    if (description !== undefined && typeof description !== 'string') fail(origin, where, '"description" must be a string');
    return { name, labels: specs, templates: templates as string[], source, ...(description === undefined ? {} : { description }) };
  });
}

/** Reads a prompt-set file: YAML for .yaml/.yml, JSON otherwise. */
export async function readPromptSetFile(path: string, source: PromptSetInfo['source']): Promise<PromptSetDefinition[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read prompt sets (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${path}: not valid ${extname(path) === '.json' ? 'JSON' : 'JSON or YAML'}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return parsePromptSets(doc, path, source);
}

/**
 * sha256 (16 hex chars) of what determines a set's class embeddings: its labels (names and texts), its
 * templates, and the model sha256. The description does not change any output, so it is not part of it.
 */
export function promptSetVersion(set: PromptSetDefinition, modelSha256: string): string {
  const content = JSON.stringify({ name: set.name, labels: set.labels.map((l) => [l.name, l.text]), templates: set.templates });
  return createHash('sha256').update(content).update('\n').update(modelSha256).digest('hex').slice(0, 16);
}

/**
 * The sets a model serves: its own directory's, then the service-wide file's. A service-wide set with the
 * same name as a model's set replaces it (the operator's file is the explicit choice).
 */
export function mergePromptSets(model: PromptSetDefinition[], service: PromptSetDefinition[]): PromptSetDefinition[] {
  const byName = new Map<string, PromptSetDefinition>();
  for (const set of [...model, ...service]) byName.set(set.name, set);
  return [...byName.values()];
}
