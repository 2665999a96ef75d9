/**
 * Checks real answers against the API document: the operation must declare the status and the content type,
 * and the body must match the schema declared for that operation + status + content type. OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, so they are compiled by Ajv's 2020 build, with the whole document registered so that
 * `$ref: '#/components/...'` resolves as any OpenAPI tool would resolve it (independently of src/http/openapi/schemas.ts).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';

type Doc = { paths: Record<string, Record<string, Operation>>; components?: { responses?: Record<string, ResponseObject> } } & Record<
  string,
  unknown
>;
interface ResponseObject {
  $ref?: string;
  content?: Record<string, { schema?: unknown }>;
}
interface Operation {
  operationId: string;
  responses: Record<string, ResponseObject>;
}

const DOC_ID = 'urn:unimed:openapi';
const escape = (part: string) => part.replace(/~/g, '~0').replace(/\//g, '~1');

export interface Answer {
  status: number;
  contentType: string;
  body: unknown;
}

/** A Response read once: JSON parsed when the content type says JSON, else text (bytes as latin1 for images). */
export async function readAnswer(res: Response): Promise<Answer> {
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown = contentType.startsWith('image/') ? bytes.toString('latin1') : bytes.toString('utf8');
  if (contentType === 'application/json' || contentType.endsWith('+json'))
    body = bytes.length === 0 ? undefined : JSON.parse(body as string);
  return { status: res.status, contentType, body };
}

export class SpecChecker {
  readonly doc: Doc;
  readonly #ajv: Ajv2020;
  readonly #validators = new Map<string, ValidateFunction>();
  /** `operationId status` of every answer checked, to tell which operations and statuses were exercised. */
  readonly seen = new Set<string>();

  constructor(doc: Doc) {
    this.doc = doc;
    this.#ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    // The document's own top-level fields are not schema keywords; declaring them keeps strict mode for the rest.
    this.#ajv.addVocabulary(Object.keys(doc).filter((key) => !key.startsWith('$')));
    this.#ajv.addSchema(doc, DOC_ID);
  }

  /**
   * What is wrong with `value` against the schema at `segments`, a path into the document (e.g. `components`,
   * `responses`, `BadRequest`, `content`, `application/json`, `schema`); empty when it conforms.
   */
  schemaProblems(segments: string[], value: unknown): string[] {
    const key = `${DOC_ID}#/${segments.map(escape).join('/')}`;
    const validate = this.#validators.get(key) ?? this.#ajv.getSchema(key);
    if (validate === undefined) return [`cannot compile ${key}`];
    this.#validators.set(key, validate);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '(the value)'} ${e.message ?? ''} (${e.schemaPath})`);
  }

  /** Every operation of the document as `METHOD path` -> operation. */
  operations(): Map<string, Operation> {
    const out = new Map<string, Operation>();
    for (const [path, item] of Object.entries(this.doc.paths)) {
      for (const [method, operation] of Object.entries(item)) out.set(`${method.toUpperCase()} ${path}`, operation);
    }
    return out;
  }

  /** The document's path that `pathname` is: itself, else a template whose `{param}` segments match one segment each. */
  templateOf(pathname: string): string {
    if (pathname in this.doc.paths) return pathname;
    const segments = pathname.split('/');
    const matches = (template: string): boolean => {
      const parts = template.split('/');
      return parts.length === segments.length && parts.every((part, i) => /^\{[^}]+\}$/.test(part) || part === segments[i]);
    };
    return Object.keys(this.doc.paths).find(matches) ?? pathname;
  }

  /** What is wrong with `answer` to `method path` according to the document; empty when it conforms. */
  problems(method: string, url: string, answer: Answer): string[] {
    const path = this.templateOf(new URL(url, 'http://x').pathname);
    const where = `${method} ${path} -> ${answer.status} ${answer.contentType}`;
    const operation = this.doc.paths[path]?.[method.toLowerCase()];
    if (operation === undefined) return [`${where}: the document has no such operation`];
    this.seen.add(`${operation.operationId} ${answer.status}`);
    let pointer = `#/paths/${escape(path)}/${method.toLowerCase()}/responses/${answer.status}`;
    let response = operation.responses[String(answer.status)];
    if (response === undefined) return [`${where}: status ${answer.status} is not declared for ${operation.operationId}`];
    if (response.$ref !== undefined) {
      pointer = response.$ref;
      response = this.doc.components?.responses?.[response.$ref.replace('#/components/responses/', '')];
      if (response === undefined) return [`${where}: ${pointer} does not resolve`];
    }
    const media = response.content?.[answer.contentType];
    if (media === undefined)
      return [`${where}: content type not declared (declared: ${Object.keys(response.content ?? {}).join(', ') || 'none'})`];
    if (media.schema === undefined) return [];
    const key = `${DOC_ID}${pointer}/content/${escape(answer.contentType)}/schema`;
    let validate = this.#validators.get(key);
    if (validate === undefined) {
      validate = this.#ajv.getSchema(key);
      if (validate === undefined) return [`${where}: cannot compile ${key}`];
      this.#validators.set(key, validate);
    }
    if (validate(answer.body)) return [];
    return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message ?? ''} (${e.schemaPath})`);
  }
}
