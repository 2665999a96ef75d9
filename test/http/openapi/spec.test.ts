// openapi.yaml is served to clients and is the source of the routes' schemas: it must pass a strict, independent
// OpenAPI 3.1 validator (JSON Schema of the specification plus its semantic rules), not only our own loader.
import SwaggerParser from '@apidevtools/swagger-parser';
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from '../../helpers/common.ts';
import { SpecChecker } from '../../helpers/openapi-check.ts';

t.test('openapi.yaml passes @apidevtools/swagger-parser validation (schema and spec)', async (t) => {
  const file = join(ROOT, 'openapi.yaml');
  let problem = '';
  try {
    const api = await SwaggerParser.validate(file, { validate: { schema: true, spec: true } });
    t.match(api, { openapi: /^3\.1\./ }, 'an OpenAPI 3.1 document');
  } catch (error) {
    problem = error instanceof Error ? error.message : String(error);
  }
  t.equal(problem, '', 'no validation error');
});

type Doc = ConstructorParameters<typeof SpecChecker>[0];
interface Media {
  schema?: unknown;
  example?: unknown;
  examples?: Record<string, { value?: unknown }>;
}
interface ResponseObject {
  $ref?: string;
  content?: Record<string, Media>;
  headers?: Record<string, { example?: unknown; schema?: { contentSchema?: unknown } }>;
}
const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/**
 * What is missing or wrong in the response examples: every response of every operation has an example for each
 * of its content types (an image body has none, but a JSON header of it, like X-Preprocessing, has one), and
 * every example validates against the schema it illustrates.
 */
function exampleProblems(doc: Doc): string[] {
  const checker = new SpecChecker(doc);
  const problems: string[] = [];
  const responses = (doc.components?.responses ?? {}) as Record<string, ResponseObject>;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item).filter(([m]) => METHODS.has(m))) {
      for (const [status, declared] of Object.entries(operation.responses as Record<string, ResponseObject>)) {
        const name = declared.$ref?.replace('#/components/responses/', '');
        const response = name === undefined ? declared : responses[name];
        const at = name === undefined ? ['paths', path, method, 'responses', status] : ['components', 'responses', name];
        const where = `${method.toUpperCase()} ${path} ${status}${name === undefined ? '' : ` (${name})`}`;
        if (response === undefined) {
          problems.push(`${where}: ${declared.$ref} does not resolve`);
          continue;
        }
        for (const [type, media] of Object.entries(response.content ?? {})) {
          if (type.startsWith('image/')) continue;
          const values = media.example !== undefined ? [media.example] : Object.values(media.examples ?? {}).map((e) => e.value);
          if (values.length === 0) problems.push(`${where} ${type}: no example`);
          if (media.schema === undefined) continue;
          for (const value of values) {
            for (const p of checker.schemaProblems([...at, 'content', type, 'schema'], value))
              problems.push(`${where} ${type}: example ${p}`);
          }
        }
        for (const [header, object] of Object.entries(response.headers ?? {})) {
          if (object.schema?.contentSchema === undefined) continue;
          if (typeof object.example !== 'string') {
            problems.push(`${where} header ${header}: no example (a JSON string)`);
            continue;
          }
          const value: unknown = JSON.parse(object.example);
          for (const p of checker.schemaProblems([...at, 'headers', header, 'schema', 'contentSchema'], value))
            problems.push(`${where} header ${header}: example ${p}`);
        }
      }
    }
  }
  return problems;
}

const document = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8')) as Doc;

t.test('every response of every operation has an example, and every example validates against its schema', (t) => {
  t.same(exampleProblems(document), [], 'examples present and valid');
  t.end();
});

t.test('the example check fails a missing or a wrong example', (t) => {
  const altered = structuredClone(document) as unknown as { components: { responses: Record<string, { content: Record<string, Media> }> } };
  const badRequest = altered.components.responses.BadRequest!.content['application/json']!;
  badRequest.example = { error: { code: 'no_such_code', message: 'x' } };
  delete altered.components.responses.NotFound!.content['application/json']!.example;
  const problems = exampleProblems(altered as unknown as Doc);
  t.ok(
    problems.some((p) => /\(BadRequest\) application\/json: example \/error\/code must be equal to one of the allowed values/.test(p)),
    'a code outside the enum',
  );
  t.ok(
    problems.some((p) => /\(NotFound\) application\/json: no example/.test(p)),
    'a missing example',
  );
  t.end();
});

t.test('every operation declares 431 (headers too large, answered before routing) and 500', (t) => {
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item).filter(([m]) => METHODS.has(m))) {
      for (const status of ['431', '500']) t.ok(status in operation.responses, `${method.toUpperCase()} ${path}: ${status}`);
    }
  }
  t.end();
});
