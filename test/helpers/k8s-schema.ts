/**
 * Strict validation of Kubernetes objects, as the API server's strict field validation (`kubectl apply
 * --validate=strict`) would do it, without a cluster: every field must exist in the kind's schema (an unknown or
 * misspelled field is an error, not ignored), and every value must have the field's type. Core kinds are
 * walked over the type metadata of `@kubernetes/client-node`'s generated models (each class's static
 * `attributeTypeMap`, generated from the Kubernetes OpenAPI document of the release `kubernetesRelease()` names);
 * the custom kinds this repository ships (prometheus-operator, kustomize, prometheus-adapter's configuration) by
 * the hand-written maps of test/helpers/k8s-crd-schemas.ts. Used by test/integration/deploy-manifests.test.ts (every file
 * under docker/k8s, and every rendered overlay).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CUSTOM_KINDS } from './k8s-crd-schemas.ts';

/** A field's type: scalars, containers, an object of known fields, or a client-node model by class name. */
export type FieldType =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'int-or-string'
  | 'quantity'
  | 'any'
  | { array: FieldType }
  | { map: FieldType }
  | { object: Record<string, FieldType>; required?: string[] }
  | { model: string };

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}
type Models = Record<string, { attributeTypeMap?: Attribute[] } | undefined>;

// A specifier in a variable: only the models' runtime metadata is read, so TypeScript need not load the
// package's declarations (they bring their own @types/node major).
const CLIENT_NODE = '@kubernetes/client-node';
const models = (await import(CLIENT_NODE)) as Models;

/** The Kubernetes release the installed client-node models were generated from, e.g. `{ major: 1, minor: 36 }`. */
export function kubernetesRelease(): { major: number; minor: number } {
  const entry = createRequire(import.meta.url).resolve(CLIENT_NODE);
  const generated = readFileSync(join(dirname(entry), 'gen/models/V1Pod.js'), 'utf8');
  const m = /OpenAPI spec version: release-(\d+)\.(\d+)/.exec(generated);
  if (!m) throw new Error(`${CLIENT_NODE}: no "OpenAPI spec version" in its generated V1Pod model`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** Kubernetes quantities are strings in client-node's models; the API also takes a plain number for them. */
const QUANTITY_FIELDS = new Set([
  'V1ResourceRequirements.limits',
  'V1ResourceRequirements.requests',
  'V1VolumeResourceRequirements.limits',
  'V1VolumeResourceRequirements.requests',
  'V1EmptyDirVolumeSource.sizeLimit',
  'V2MetricTarget.value',
  'V2MetricTarget.averageValue',
]);
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/;

function modelFieldType(owner: string, attribute: Attribute): FieldType {
  if (QUANTITY_FIELDS.has(`${owner}.${attribute.name}`)) return attribute.type.startsWith('{') ? { map: 'quantity' } : 'quantity';
  return parseModelType(attribute.type, attribute.format);
}

function parseModelType(type: string, format: string): FieldType {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return { array: parseModelType(array[1]!, format) };
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return { map: parseModelType(map[1]!, format) };
  if (type === 'string' || type === 'Date') return 'string';
  if (type === 'number') return format === 'int32' || format === 'int64' ? 'integer' : 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'IntOrString') return 'int-or-string';
  if (type === 'any' || type === 'object') return 'any';
  return { model: type };
}

/** The client-node class for an apiVersion and kind: `apps/v1` Deployment is V1Deployment, `autoscaling/v2`
 * HorizontalPodAutoscaler is V2HorizontalPodAutoscaler. */
function coreModel(apiVersion: string, kind: string): string | undefined {
  const version = apiVersion.split('/').at(-1) ?? '';
  const name = `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
  const attributes = models[name]?.attributeTypeMap;
  return attributes?.some((a) => a.name === 'kind') ? name : undefined;
}

/** The schema of a top-level object, by its apiVersion and kind; undefined for a kind neither source knows. */
export function schemaOf(apiVersion: string, kind: string): FieldType | undefined {
  const custom = CUSTOM_KINDS[`${apiVersion}/${kind}`];
  if (custom) return custom;
  const model = coreModel(apiVersion, kind);
  return model === undefined ? undefined : { model };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every place where `value` departs from `type`, as `path: problem`. */
export function validateValue(value: unknown, type: FieldType, path: string): string[] {
  if (value === null) return []; // an explicit null unsets a field (and is how patches delete one)
  if (typeof type === 'string') return validateScalar(value, type, path);
  if ('array' in type) {
    if (!Array.isArray(value)) return [`${path}: expected a list, got ${describe(value)}`];
    return value.flatMap((item, i) => validateValue(item, type.array, `${path}[${i}]`));
  }
  if (!isObject(value)) return [`${path}: expected an object, got ${describe(value)}`];
  if ('map' in type) return Object.entries(value).flatMap(([k, v]) => validateValue(v, type.map, `${path}.${k}`));
  const fields = 'model' in type ? modelFields(type.model) : new Map(Object.entries(type.object));
  const errors: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    // Strategic-merge patch directives ($patch, $setElementOrder/...) belong to patches, not to the schema.
    if (key.startsWith('$')) continue;
    const fieldType = fields.get(key);
    if (fieldType === undefined) errors.push(`${path}.${key}: unknown field${'model' in type ? ` (not in ${type.model})` : ''}`);
    else errors.push(...validateValue(v, fieldType, `${path}.${key}`));
  }
  if ('object' in type)
    for (const name of type.required ?? []) if (!(name in value)) errors.push(`${path}.${name}: required field missing`);
  return errors;
}

const fieldCache = new Map<string, Map<string, FieldType>>();
function modelFields(name: string): Map<string, FieldType> {
  let fields = fieldCache.get(name);
  if (fields) return fields;
  const attributes = models[name]?.attributeTypeMap;
  if (!attributes) throw new Error(`${CLIENT_NODE} has no model ${name}`);
  fields = new Map(attributes.map((a) => [a.baseName, modelFieldType(name, a)]));
  fieldCache.set(name, fields);
  return fields;
}

function validateScalar(value: unknown, type: Exclude<FieldType, object>, path: string): string[] {
  const ok = {
    string: () => typeof value === 'string',
    integer: () => Number.isInteger(value),
    number: () => typeof value === 'number' && Number.isFinite(value),
    boolean: () => typeof value === 'boolean',
    'int-or-string': () => Number.isInteger(value) || typeof value === 'string',
    quantity: () => (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && QUANTITY.test(value)),
    any: () => true,
  }[type]();
  return ok ? [] : [`${path}: expected ${type}, got ${describe(value)}`];
}

function describe(value: unknown): string {
  return `${Array.isArray(value) ? 'a list' : typeof value} ${JSON.stringify(value)?.slice(0, 40) ?? ''}`.trim();
}

/** Validates one top-level object (a manifest, or a patch: then only the fields it has are checked). */
export function validateObject(object: unknown, where: string): string[] {
  if (!isObject(object)) return [`${where}: not an object`];
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${where}: apiVersion and kind are required`];
  const schema = schemaOf(apiVersion, kind);
  if (schema === undefined)
    return [`${where}: unknown kind ${apiVersion} ${kind} (neither ${CLIENT_NODE} nor test/helpers/k8s-crd-schemas.ts has it)`];
  const name = isObject(object.metadata) ? object.metadata.name : undefined;
  return validateValue(object, schema, `${where} ${kind}/${typeof name === 'string' ? name : '?'}`);
}
