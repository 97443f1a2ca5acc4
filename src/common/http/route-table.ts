import type { FastifyInstance } from 'fastify';

export interface RouteEntry {
  method: string;
  /** The route template, as registered (`/api/keys/:id`, `/docs/*`). */
  url: string;
}

const TABLES = new WeakMap<FastifyInstance, RouteEntry[]>();

/**
 * Records every route registered on this instance from now on, Nest's and plugins' alike
 * (`/docs` assets), so tests can walk the whole surface and new routes are covered without
 * anyone listing them. Call before Nest registers its routes.
 */
export function recordRoutes(fastify: FastifyInstance): void {
  const table: RouteEntry[] = [];
  TABLES.set(fastify, table);
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      table.push({ method, url: route.url });
    }
  });
}

/** Every route of the instance, in registration order (empty if it was not recorded). */
export function routesOf(fastify: FastifyInstance): readonly RouteEntry[] {
  return TABLES.get(fastify) ?? [];
}
