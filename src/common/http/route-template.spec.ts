import type { FastifyRequest } from 'fastify';
import { routeTemplateOf } from 'src/common/http/route-template';

/** A request whose `routeOptions` getter counts its reads, as Fastify's builds an object each. */
function requestFor(url: string | undefined) {
  const reads = { count: 0 };
  const request = {
    get routeOptions() {
      reads.count++;
      return { url };
    },
  } as unknown as FastifyRequest;
  return { request, reads };
}

describe(routeTemplateOf.name, () => {
  it("answers the matched route's template, reading Fastify's getter once per request", () => {
    const { request, reads } = requestFor('/api/keys/:id');
    expect(routeTemplateOf(request)).toBe('/api/keys/:id');
    expect(routeTemplateOf(request)).toBe('/api/keys/:id');
    expect(reads.count).toBe(1);
  });

  it('answers undefined, also once, for a request no route matched', () => {
    const { request, reads } = requestFor(undefined);
    expect(routeTemplateOf(request)).toBeUndefined();
    expect(routeTemplateOf(request)).toBeUndefined();
    expect(reads.count).toBe(1);
  });
});
