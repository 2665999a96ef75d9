import { parseDocument } from 'yaml';
import type { Config } from '../../config.ts';
import { inField, tooLarge, type CodeWithStatus, type ServiceError } from '../../errors.ts';
import type { Json, JsonObject } from './api-document.ts';

type Limits = Pick<Config['limits'], 'textsPerRequest' | 'charsPerText' | 'imagesPerRequest' | 'promptsPerClassify'>;

/** Where, under components.schemas, each configured limit is written into the API document at start. */
const PATCHES: { path: (string | number)[]; keyword: 'maxItems' | 'maxLength'; value: (limits: Limits) => number }[] = [
  { path: ['EmbedTextRequest', 'properties', 'texts'], keyword: 'maxItems', value: (l) => l.textsPerRequest },
  { path: ['EmbedTextRequest', 'properties', 'texts', 'items'], keyword: 'maxLength', value: (l) => l.charsPerText },
  { path: ['EmbedImageRequest', 'properties', 'images'], keyword: 'maxItems', value: (l) => l.imagesPerRequest },
  // labels x templates <= MAX_PROMPTS_PER_CLASSIFY, with at least one template and at least two labels.
  { path: ['ClassifyRequest', 'properties', 'labels'], keyword: 'maxItems', value: (l) => l.promptsPerClassify },
  {
    path: ['ClassifyRequest', 'properties', 'templates'],
    keyword: 'maxItems',
    value: (l) => Math.max(1, Math.floor(l.promptsPerClassify / 2)),
  },
  { path: ['Label', 'oneOf', 0], keyword: 'maxLength', value: (l) => l.charsPerText },
  { path: ['Label', 'oneOf', 1, 'properties', 'name'], keyword: 'maxLength', value: (l) => l.charsPerText },
  { path: ['Label', 'oneOf', 1, 'properties', 'text'], keyword: 'maxLength', value: (l) => l.charsPerText },
  { path: ['Template'], keyword: 'maxLength', value: (l) => l.charsPerText },
];

/**
 * The API document with the running configuration's limits written into its request schemas (openapi.yaml
 * stays the source of everything else), so that the routes validate with them and /openapi.json states them.
 */
export function withLimits(document: JsonObject, limits: Limits): JsonObject {
  const copy = structuredClone(document);
  const schemas = (copy.components as JsonObject | undefined)?.schemas;
  for (const { path, keyword, value } of PATCHES) {
    let node: Json | undefined = schemas;
    for (const step of path) node = node !== null && typeof node === 'object' ? (node as Record<string | number, Json>)[step] : undefined;
    if (node === null || typeof node !== 'object' || Array.isArray(node))
      throw new Error(`openapi.yaml has no components.schemas.${path.join('.')} to hold ${keyword}`);
    node[keyword] = value(limits);
  }
  return copy;
}

/** openapi.yaml's text with the same limits written in (comments and layout kept), for /openapi.yaml. */
export function withLimitsYaml(text: string, limits: Limits): string {
  const document = parseDocument(text);
  for (const { path, keyword, value } of PATCHES) {
    const at = ['components', 'schemas', ...path];
    if (!document.hasIn(at)) throw new Error(`openapi.yaml has no components.schemas.${path.join('.')} to hold ${keyword}`);
    document.setIn([...at, keyword], value(limits));
  }
  return document.toString({ lineWidth: 0 });
}

/** The 413 each limit written in by withLimits answers with, by top-level request property (docs/configuration.md "Limits"). */
const VIOLATIONS: Record<string, Partial<Record<string, { code: CodeWithStatus<413>; variable: string }>>> = {
  texts: {
    maxItems: { code: 'too_many_texts', variable: 'MAX_TEXTS_PER_REQUEST' },
    maxLength: { code: 'text_too_long', variable: 'MAX_CHARS_PER_TEXT' },
  },
  images: { maxItems: { code: 'too_many_images', variable: 'MAX_IMAGES_PER_REQUEST' } },
  labels: {
    maxItems: { code: 'too_many_prompts', variable: 'MAX_PROMPTS_PER_CLASSIFY: labels x templates' },
    maxLength: { code: 'text_too_long', variable: 'MAX_CHARS_PER_TEXT' },
  },
  templates: {
    maxItems: { code: 'too_many_prompts', variable: 'MAX_PROMPTS_PER_CLASSIFY: labels x templates' },
    maxLength: { code: 'text_too_long', variable: 'MAX_CHARS_PER_TEXT' },
  },
};

interface ValidationIssue {
  keyword?: string;
  instancePath?: string;
  message?: string;
}

/**
 * A schema violation of one of the configured limits, as the 413 the service has always answered it with
 * (too_many_texts, text_too_long, ...) rather than a 400; undefined for any other violation. Ajv's messages
 * name the path and the limit, never the value.
 */
export function limitViolation(issues: readonly ValidationIssue[] | undefined | null, prefix = 'body'): ServiceError | undefined {
  for (const issue of issues ?? []) {
    const top = issue.instancePath?.split('/')[1] ?? '';
    const known = VIOLATIONS[top]?.[issue.keyword ?? ''];
    if (known !== undefined) {
      return inField(
        top,
        tooLarge(`${prefix}${issue.instancePath ?? ''} ${issue.message ?? 'is over a limit'} (${known.variable})`, known.code),
      );
    }
  }
  return undefined;
}
