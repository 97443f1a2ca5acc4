import type { FastifyRequest } from 'fastify';

const kTemplate = Symbol('parley.routeTemplate');

type WithTemplate = FastifyRequest & { [kTemplate]?: string | null };

/**
 * The template of the route a request matched (`/v1/chat/completions`, `/api/keys/:id`), or
 * undefined when none did. Read once per request and kept on it: Fastify's `routeOptions`
 * getter builds and freezes a new object on every read, and the request hooks and two guards
 * each need the template.
 */
export function routeTemplateOf(request: FastifyRequest): string | undefined {
  const tagged = request as WithTemplate;
  let template = tagged[kTemplate];
  if (template === undefined) {
    template = request.routeOptions.url ?? null;
    tagged[kTemplate] = template;
  }
  return template ?? undefined;
}
