import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { apiDocument } from '../openapi/api-document.ts';
import { withLimits, withLimitsYaml } from '../openapi/api-limits.ts';
import { markRoutesPublic } from '../security/public-routes.ts';

/**
 * The API document the routes validate with (openapi.yaml, read once at start, with the configured limits
 * written into its request schemas: api-limits.ts) as /openapi.json and
 * /openapi.yaml, and an interactive reference of it at /docs (Swagger UI, its assets served from the
 * @fastify/swagger-ui package, nothing from a CDN). They need no model: answered while starting and draining.
 */
export async function docsRoutes(app: FastifyInstance): Promise<void> {
  const source = apiDocument();
  const text = withLimitsYaml(source.text, app.config.limits);
  const document = withLimits(source.document, app.config.limits);
  // The API's documentation is open without a key, Swagger UI's own routes and assets included.
  markRoutesPublic(app);

  app.get('/openapi.json', (_request, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(document)));
  app.get('/openapi.yaml', (_request, reply) => reply.type('application/yaml; charset=utf-8').send(text));

  // Static mode: the document as written, not one generated from the route schemas.
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  // The page loads the same document from /docs/json; validatorUrl off (no call to validator.swagger.io).
  await app.register(swaggerUi, { routePrefix: '/docs', validatorUrl: false, staticCSP: true });
}
