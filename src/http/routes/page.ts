import { readFileSync } from 'node:fs';
import type { FastifyPluginCallback } from 'fastify';
import { PUBLIC } from '../security/public-routes.ts';

/** The page's files (page/ at the repository root): the same relative path from src/http/routes/ and dist/http/routes/. */
export const PAGE_DIR = new URL('../../../page/', import.meta.url);

/**
 * Only this service: its own scripts, styles and API; the preview arrives as a blob: URL (data: for the empty
 * favicon). No inline script or style, no plugin, no framing, no form posted elsewhere.
 */
export const PAGE_CSP =
  "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Each URL of the page, the file it serves and its media type. */
export const PAGE_ASSETS = [
  { url: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/page/page.js', file: 'page.js', type: 'text/javascript; charset=utf-8' },
  { url: '/page/page.css', file: 'page.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * GET / : a page to try a model in a browser (pick or drop an image, choose a prompt set or type labels, see the
 * image the model sees, the predictions and the preprocessing record). Plain HTML, CSS and JavaScript read once
 * at start; public (no API key: the page asks for one and sends it with its API calls); needs no model, so it
 * answers while the service starts and drains too.
 */
export const pageRoutes: FastifyPluginCallback = (app, _options, done) => {
  for (const asset of PAGE_ASSETS) {
    const body = readFileSync(new URL(asset.file, PAGE_DIR));
    app.get(asset.url, { config: PUBLIC }, (_request, reply) =>
      reply
        .type(asset.type)
        .header('content-security-policy', PAGE_CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body),
    );
  }
  done();
};
