/**
 * The one reader of the image and series routes. A request comes as a raw body with its fields as query
 * parameters, as multipart/form-data with `image` file parts and its fields as form fields, or as JSON; each
 * becomes one body: the fields as the JSON types the route's request schema declares (in an object with no
 * prototype, so no field name can reach one), plus what carries the images. The fields are then held to that
 * schema once, with the messages and codes a JSON body gets, so the same input gets the same error on every route.
 */
import type { FastifyRequest } from 'fastify';
import { badRequest, inField } from '../../errors.ts';
import { isRecord } from '../../records.ts';
import { limitViolation } from '../openapi/api-limits.ts';
import { validationField } from '../errors/error-handler.ts';
import type { OptionSource } from './image-options.ts';
import { readForm, type FormFile } from './multipart.ts';
import { requestFields } from '../openapi/schemas.ts';
import type { ImageLimit } from './image-limit.ts';

export interface ReaderSpec {
  /** The JSON request schema (openapi.yaml); its properties other than `payload` are the fields of every form. */
  schema: string;
  /** The JSON property that carries the images (`image`, `images`) or the series (`dicomweb`). */
  payload: string;
  /** Form fields besides the schema's fields (a `dicomweb` reference in an image form). */
  formFields?: readonly string[];
  /** How many `image` file parts a form may carry, and the rule that says so. */
  files: ImageLimit;
  maxBytes: number;
}

/** A request's body, whichever form it came in. */
export interface RequestBody {
  where: OptionSource;
  /** The fields, as the types the schema declares (a string that does not read as one stays a string, for the schema to refuse). */
  values: Record<string, unknown>;
  /** JSON: the payload property as sent. */
  payload?: unknown;
  /** A form's file parts, and its texts in `formFields`. */
  files: FormFile[];
  formTexts: ReadonlyMap<string, string[]>;
  /** A raw body and its content type. */
  raw?: { body: Buffer; type: string | undefined };
}

/** How a schema error names where the value was, as Fastify's own validation messages do. */
const PREFIX: Record<OptionSource, string> = { 'query parameter': 'querystring', 'form field': 'form', property: 'body' };

const INTEGER = /^\s*\d+\s*$/;
const DECIMAL = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A query or form string as the JSON type its field declares; one that does not read as that type stays a string. */
function typed(value: string, type: string | undefined): unknown {
  if ((type === 'integer' && INTEGER.test(value)) || (type === 'number' && DECIMAL.test(value))) return Number(value);
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

/** A list field: repeated (`labels=a&labels=b`) or one field holding a JSON array. */
function list(name: string, values: readonly string[], where: OptionSource): unknown[] {
  const [first] = values;
  if (values.length !== 1 || first === undefined || !first.trimStart().startsWith('[')) return [...values];
  let parsed: unknown;
  try {
    parsed = JSON.parse(first);
  } catch {
    throw inField(name, badRequest(`${where} "${name}" starts with "[" but is not a valid JSON array`));
  }
  if (!Array.isArray(parsed)) throw inField(name, badRequest(`${where} "${name}" must be a JSON array`));
  return parsed as unknown[];
}

/** Strings by field name as the schema's types: a list for an array field, one value at most for any other. */
function fieldValues(
  given: Iterable<[string, string[]]>,
  types: ReadonlyMap<string, string>,
  where: OptionSource,
): Record<string, unknown> {
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, strings] of given) {
    const type = types.get(name);
    if (type === 'array') values[name] = list(name, strings, where);
    else if (strings.length > 1) throw inField(name, badRequest(`${where} "${name}" was given ${strings.length} times`));
    else values[name] = typed(strings[0] ?? '', type);
  }
  return values;
}

/** The query string as lists of strings by name (a parameter given once is a list of one). */
export function queryStrings(request: FastifyRequest): [string, string[]][] {
  const query = isRecord(request.query) ? request.query : {};
  return Object.entries(query).map(([name, value]) => [name, (Array.isArray(value) ? value : [value]).map(String)]);
}

export function requestReader(spec: ReaderSpec) {
  const { schema, types } = requestFields(spec.schema, spec.payload);
  const formFields = spec.formFields ?? [];

  /** The body of `request`; `queryFields`: the query parameters a raw body's fields are read from (all by default). */
  async function read(request: FastifyRequest, queryFields?: ReadonlySet<string>): Promise<RequestBody> {
    if (Buffer.isBuffer(request.body)) {
      const given = queryStrings(request).filter(([name]) => queryFields === undefined || queryFields.has(name));
      const values = fieldValues(given, types, 'query parameter');
      return {
        where: 'query parameter',
        values,
        files: [],
        formTexts: new Map(),
        raw: { body: request.body, type: request.headers['content-type'] },
      };
    }
    if (request.isMultipart()) {
      const form = await readForm(request, {
        fileField: 'image',
        textFields: [...types.keys(), ...formFields],
        files: spec.files,
        maxBytes: spec.maxBytes,
      });
      const given = [...form.fields].filter(([name]) => !formFields.includes(name));
      const formTexts = new Map([...form.fields].filter(([name]) => formFields.includes(name)));
      return { where: 'form field', values: fieldValues(given, types, 'form field'), files: form.files, formTexts };
    }
    const { [spec.payload]: payload, ...rest } = isRecord(request.body) ? request.body : {};
    const values: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, rest);
    return { where: 'property', values, payload, files: [], formTexts: new Map() };
  }

  /**
   * Holds the fields to the schema, as Fastify holds a JSON body (a JSON body's were, with the rest of it, before
   * the handler ran): a configured limit keeps its 413 code (text_too_long, ...), any other violation is a 400.
   */
  function validate(request: FastifyRequest, body: RequestBody): void {
    if (body.where === 'property') return;
    const check = request.compileValidationSchema(schema);
    if (check(body.values)) return;
    const prefix = PREFIX[body.where];
    const overLimit = limitViolation(check.errors, prefix);
    if (overLimit !== undefined) throw overLimit;
    const first = check.errors?.[0];
    const refused = badRequest(
      first === undefined ? `invalid ${body.where}` : `${prefix}${first.instancePath} ${first.message ?? 'is invalid'}`,
    );
    const field = validationField({ validation: check.errors ?? [] });
    throw field === undefined ? refused : inField(field, refused);
  }

  return { read, validate, types };
}
