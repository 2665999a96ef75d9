import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { apiDocument } from '../openapi/api-document.ts';
import { withLimits, withLimitsYaml } from '../openapi/api-limits.ts';
import { markRoutesPublic } from '../security/public-routes.ts';

/**
 * As tight as the page's (routes/page.ts): Swagger UI's files and the API of this service only. Replaces the
 * package's own policy, which allows styles and fonts from any https: origin and images from validator.swagger.io.
 */
export const DOCS_CSP =
  "default-src 'self'; img-src 'self' data:; font-src 'self' data:; style-src 'self'; script-src 'self'; script-src-attr 'none'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

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
  // The page loads the same document from /docs/json; validatorUrl off (no call to validator.swagger.io, no badge).
  await app.register(swaggerUi, { routePrefix: '/docs', validatorUrl: false, staticCSP: DOCS_CSP });
}
