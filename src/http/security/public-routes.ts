import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Open without an API key: probes, the page and its assets, the API documentation. Every other route,
     * and a request that matches no route, needs a key once keys are configured (src/http/security/access-control.ts).
     */
    public?: boolean;
  }
}

/** Route option that opens a route without an API key: `app.get(url, { config: PUBLIC }, handler)`. */
export const PUBLIC = { public: true } as const;

/** Marks every route the calling plugin (and its children) registers as public, for routes made by third-party plugins. */
export function markRoutesPublic(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, public: true };
  });
}

export function isPublicRoute(request: FastifyRequest): boolean {
  return request.routeOptions.config.public === true;
}
