import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound, tooLarge, unsupportedMediaType } from '../../errors.ts';
import type { ImageOptions } from '../../inputs/decode.ts';
import type { Config } from '../../config.ts';
import type { LabelSpec, RequestOptions, ServedModel } from '../../models/types.ts';
import { IMAGE_OPTION_NAMES, imageOptions, imageOptionsFromForm, refuseQueryImageOptions, splitImageOptions } from '../image-options.ts';
import { listField, readForm, singleField } from '../multipart.ts';
import { ref } from '../schemas.ts';
import { base64Image, characters, checkTextLengths, decodeImages, formImage, pickModel } from './common.ts';
import { hasOnePlaceholder } from '../../zeroshot/scoring.ts';
import type { ImageInput } from './common.ts';
import type { InferenceDeps } from './inference.ts';

type LabelInput = string | { name: string; text: string };

interface ClassifyOptions {
  labels?: LabelInput[];
  templates?: string[];
  prompt_set?: string;
  top_k?: number;
  model?: string;
}

/** Inline labels without templates are embedded as the label text alone. */
export const DEFAULT_TEMPLATES: readonly string[] = ['{}'];

const CLASSIFY_FIELDS = ['labels', 'templates', 'prompt_set', 'top_k', 'model'] as const;

/** Multipart fields are strings; this shapes them like the JSON form so both pass the same schema. */
function optionsFromForm(form: Awaited<ReturnType<typeof readForm>>): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const labels = listField(form, 'labels');
  if (labels !== undefined) options.labels = labels;
  const templates = listField(form, 'templates');
  if (templates !== undefined) options.templates = templates;
  const promptSet = singleField(form, 'prompt_set');
  if (promptSet !== undefined) options.prompt_set = promptSet;
  const topK = singleField(form, 'top_k');
  if (topK !== undefined) options.top_k = /^\s*\d+\s*$/.test(topK) ? Number(topK) : topK;
  const model = singleField(form, 'model');
  if (model !== undefined) options.model = model;
  return options;
}

// One object for the life of the process: Fastify caches compiled validators by schema identity, so a fresh
// object per request would compile (and keep) a new Ajv validator every time.
const CLASSIFY_OPTIONS_SCHEMA = ref('ClassifyOptions');

function validateOptions(request: FastifyRequest, options: Record<string, unknown>): ClassifyOptions {
  // The JSON form is validated by the route schema; the form fields go through the same component schema.
  const validate = request.compileValidationSchema(CLASSIFY_OPTIONS_SCHEMA);
  if (!validate(options)) {
    const first = validate.errors?.[0];
    throw badRequest(first === undefined ? 'invalid form fields' : `form${first.instancePath} ${first.message ?? 'is invalid'}`);
  }
  return options;
}

function labelSpecs(labels: LabelInput[]): LabelSpec[] {
  const specs = labels.map((l) => (typeof l === 'string' ? { name: l, text: l } : { name: l.name, text: l.text }));
  const seen = new Set<string>();
  for (const { name } of specs) {
    if (seen.has(name)) throw badRequest(`label "${name}" is given twice`);
    seen.add(name);
  }
  return specs;
}

/**
 * Every template holds `{}` once, and the longest label in the longest template (the longest prompt) is within
 * MAX_CHARS_PER_TEXT, so what the text encoder is asked to read is bounded like any text.
 */
function checkPrompts(labels: LabelSpec[], templates: string[], config: Config): void {
  templates.forEach((template, i) => {
    if (!hasOnePlaceholder(template)) throw badRequest(`template ${i} must contain "{}" exactly once (where the label goes)`);
  });
  const max = config.limits.charsPerText;
  const longest = (texts: string[]): [number, number] =>
    texts.reduce<[number, number]>((best, text, i) => {
      const n = characters(text, max);
      return n > best[0] ? [n, i] : best;
    }, [-1, -1]);
  const [labelChars, label] = longest(labels.map((l) => l.text));
  const [templateChars, template] = longest(templates);
  if (labelChars + templateChars - 2 > max) {
    throw tooLarge(`label ${label} in template ${template} makes a prompt longer than MAX_CHARS_PER_TEXT (${max} characters)`, 'text_too_long');
  }
}

interface Classes {
  labels: LabelSpec[];
  promptSet?: { name: string; version: string };
  embed(work: RequestOptions): Promise<Float32Array[]>;
}

/** The classes to score: a prompt set's (embedded at start) or inline labels x templates (through the cache). */
function resolveClasses(model: ServedModel, options: ClassifyOptions, config: Config): Classes {
  if (options.prompt_set !== undefined) {
    const set = model.promptSet(options.prompt_set);
    if (set === undefined) throw notFound(`model "${model.id}" has no prompt set "${options.prompt_set}"`, 'prompt_set_not_found');
    return { labels: set.labels, promptSet: { name: set.info.name, version: set.info.version }, embed: () => Promise.resolve(set.classEmbeddings) };
  }
  const labels = labelSpecs(options.labels ?? []);
  const templates = [...(options.templates ?? DEFAULT_TEMPLATES)];
  const prompts = labels.length * templates.length;
  if (prompts > config.limits.promptsPerClassify) {
    throw tooLarge(
      `${labels.length} labels x ${templates.length} templates = ${prompts} prompts, MAX_PROMPTS_PER_CLASSIFY allows ${config.limits.promptsPerClassify}`,
      'too_many_prompts',
    );
  }
  checkTextLengths(
    labels.map((l) => l.text),
    config,
    'label',
  );
  checkTextLengths(templates, config, 'template');
  checkPrompts(labels, templates, config);
  return { labels, embed: (work) => model.classEmbeddings(labels, templates, work) };
}

export function classifyRoute(app: FastifyInstance, { state, config }: InferenceDeps): void {
  app.post(
    '/classify',
    {
      schema: {
        body: { content: { 'application/json': { schema: ref('ClassifyRequest') } } },
        response: { 200: ref('ClassifyResponse') },
      },
    },
    async (request, reply) => {
      let image: ImageInput;
      let options: ClassifyOptions;
      let rendering: ImageOptions;
      if (request.isMultipart()) {
        refuseQueryImageOptions(request, 'multipart');
        const form = await readForm(request, { fileField: 'image', textFields: [...CLASSIFY_FIELDS, ...IMAGE_OPTION_NAMES], maxFiles: 1, maxBytes: config.limits.bodyBytes });
        const file = form.files[0];
        if (file === undefined) throw badRequest('the form has no "image" file part');
        image = formImage(file);
        options = validateOptions(request, optionsFromForm(form));
        rendering = imageOptionsFromForm(form);
      } else if (Buffer.isBuffer(request.body)) {
        throw unsupportedMediaType('/classify takes multipart/form-data or application/json (the image as base64)');
      } else {
        const body = request.body as (ClassifyOptions & { image?: string }) | undefined;
        if (body === undefined || typeof body.image !== 'string') throw badRequest('send multipart with an "image" part, or JSON {"image": base64, ...}');
        refuseQueryImageOptions(request, 'JSON');
        const { options: imageParams, rest } = splitImageOptions(body as Record<string, unknown>);
        const { image: _image, ...classifyOptions } = rest;
        rendering = imageOptions(imageParams, 'property');
        image = base64Image(body.image, 'image');
        options = classifyOptions;
      }

      if (options.labels !== undefined && options.prompt_set !== undefined) throw badRequest('give either labels or prompt_set, not both');
      if (options.labels === undefined && options.prompt_set === undefined) throw badRequest('give labels or a prompt_set');
      if (options.templates !== undefined && options.prompt_set !== undefined) {
        throw badRequest('templates cannot be combined with prompt_set: the prompt set brings its own');
      }

      const model = pickModel(state, reply, options.model);
      const classes = resolveClasses(model, options, config);
      // The image decodes first, so a bad image costs no text inference.
      const [decoded] = await decodeImages([image], model, config, rendering);
      if (decoded === undefined) throw new Error('the image decoder returned nothing');
      const [imageEmbeddings, classEmbeddings] = await Promise.all([model.embedImages([decoded.pixels], request.work), classes.embed(request.work)]);
      const imageEmbedding = imageEmbeddings[0];
      if (imageEmbedding === undefined) throw new Error('the image encoder returned no embedding');
      return {
        model: model.id,
        ...(classes.promptSet === undefined ? {} : { prompt_set: classes.promptSet }),
        predictions: model.classify(imageEmbedding, classEmbeddings, classes.labels, options.top_k),
        preprocessing: decoded.preprocessing,
      };
    },
  );
}
