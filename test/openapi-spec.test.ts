// openapi.yaml is served to clients and is the source of the routes' schemas: it must pass a strict, independent
// OpenAPI 3.1 validator (JSON Schema of the specification plus its semantic rules), not only our own loader.
import SwaggerParser from '@apidevtools/swagger-parser';
import t from 'tap';
import { join } from 'node:path';
import { ROOT } from './helpers/common.ts';

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
