import type { FastifyInstance } from 'fastify';
import { apiDocument, OPENAPI_PATH } from './api-document.ts';
import type { Json, JsonObject } from './api-document.ts';
import { withLimits } from './api-limits.ts';

const COMPONENT_REF = '#/components/schemas/';

/** OpenAPI refs (`#/components/schemas/X`) become refs to the schema registered with `$id: X`. */
function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: { [key: string]: Json } = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith(COMPONENT_REF)
        ? `${value.slice(COMPONENT_REF.length)}#`
        : rewriteRefs(value);
  }
  return out;
}

/** The component schemas of an API document, each with its `$id`, with refs rewritten for Fastify/Ajv. */
function componentSchemas(document: JsonObject): Record<string, { [key: string]: Json }> {
  const schemas = (document as { components?: { schemas?: Record<string, Json> } }).components?.schemas;
  if (schemas === undefined) throw new Error(`${OPENAPI_PATH.pathname} has no components.schemas`);
  const out: Record<string, { [key: string]: Json }> = {};
  for (const [name, schema] of Object.entries(schemas)) out[name] = { $id: name, ...(rewriteRefs(schema) as { [key: string]: Json }) };
  return out;
}

let cached: Record<string, { [key: string]: Json }> | undefined;

/** The component schemas of openapi.yaml as written (no configured limits), read once per process. */
export function apiSchemas(): Record<string, { [key: string]: Json }> {
  cached ??= componentSchemas(apiDocument().document);
  return cached;
}

/**
 * Registers every component schema, with the app's configured limits written in (api-limits.ts), so routes
 * validate (and serialize) with exactly the schemas the served API document publishes; a route refers to one
 * as `{ $ref: 'Name#' }`.
 */
export function registerApiSchemas(app: FastifyInstance): void {
  for (const schema of Object.values(componentSchemas(withLimits(apiDocument().document, app.config.limits)))) app.addSchema(schema);
}

/** A route-schema reference to a component of openapi.yaml. */
export const ref = (name: string): { $ref: string } => {
  if (!(name in apiSchemas())) throw new Error(`openapi.yaml has no component schema "${name}"`);
  return { $ref: `${name}#` };
};

/** What every form of an image route is held to: its JSON request schema less the image property. */
export interface RequestFields {
  /** The component's properties and rules without the image(s), which the reader has already taken out as bytes. */
  schema: JsonObject;
  /** Each field's declared JSON type (`array`, `integer`, `number`, `string`), for reading form and query strings. */
  types: ReadonlyMap<string, string>;
}

/**
 * The type a property declares, following a `$ref` to another component (`{ $ref: 'Frame#' }` -> integer); of a
 * `oneOf`, the first branch that is not a string (SliceCount: a number, or "all"), so digits read as a number.
 */
function declaredType(property: Json | undefined): string | undefined {
  if (property === null || typeof property !== 'object' || Array.isArray(property)) return undefined;
  const target = typeof property.$ref === 'string' ? apiSchemas()[property.$ref.replace(/#$/, '')] : property;
  if (typeof target?.type === 'string') return target.type;
  const branches = Array.isArray(target?.oneOf) ? target.oneOf.map(declaredType) : [];
  return branches.find((type) => type !== undefined && type !== 'string');
}

// One object per component for the life of the process: Fastify caches compiled validators by schema identity,
// so a fresh object per request would compile (and keep) a new Ajv validator every time.
const requestFieldsCache = new Map<string, RequestFields>();

/** The fields of the JSON request schema `component` other than `imageProperty`, as one schema for every form. */
export function requestFields(component: string, imageProperty: string): RequestFields {
  const key = `${component}#${imageProperty}`;
  let fields = requestFieldsCache.get(key);
  if (fields === undefined) {
    const { $id: _id, properties, required, ...rules } = apiSchemas()[component] ?? {};
    if (properties === null || typeof properties !== 'object' || Array.isArray(properties) || !(imageProperty in properties)) {
      throw new Error(`openapi.yaml component "${component}" has no property "${imageProperty}"`);
    }
    const { [imageProperty]: _image, ...rest } = properties;
    const stillRequired = Array.isArray(required) ? required.filter((name) => name !== imageProperty) : [];
    const schema: JsonObject = { ...rules, properties: rest, ...(stillRequired.length > 0 ? { required: stillRequired } : {}) };
    const types = new Map(Object.entries(rest).map(([name, property]) => [name, declaredType(property) ?? 'string']));
    fields = { schema, types };
    requestFieldsCache.set(key, fields);
  }
  return fields;
}
