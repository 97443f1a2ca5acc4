import type { OpenAPIObject } from '@nestjs/swagger';
import { applyDocumentConventions } from 'src/openapi-conventions';

const envelope = {
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelopeDto' } } },
};

function documentWith(paths: OpenAPIObject['paths']): OpenAPIObject {
  return { openapi: '3.0.0', info: { title: 't', version: '1' }, paths, components: {} };
}

describe(applyDocumentConventions.name, () => {
  it('marks an operation without credentials public and gives it only x-request-id', () => {
    const doc = applyDocumentConventions(
      documentWith({ '/healthz': { get: { responses: { '200': { description: 'ok' } } } } }),
    );
    const op = doc.paths['/healthz'].get!;
    expect(op.security).toEqual([]);
    expect(Object.keys(op.responses)).toEqual(['200']);
    expect(op.responses['200']).toEqual({
      description: 'ok',
      headers: { 'x-request-id': { $ref: '#/components/headers/x-request-id' } },
    });
    expect(doc.components?.headers?.['x-request-id']).toMatchObject({ schema: { type: 'string' } });
  });

  it('adds 413 to operations with a body, 429 (with the quota on metered routes) and rate-limit headers', () => {
    const doc = applyDocumentConventions(
      documentWith({
        '/v1/chat/completions': {
          post: {
            security: [{ bearer: [] }],
            requestBody: { content: {} },
            responses: {
              '200': { description: 'ok' },
              '401': { description: 'missing_authorization', ...envelope },
              '503': { description: 'upstream_unavailable', ...envelope },
            },
          },
        },
        '/v1/models': {
          get: {
            security: [{ bearer: [] }],
            responses: {
              '200': { description: 'ok' },
              '429': { description: 'rate_limit_exceeded', ...envelope },
            },
          },
        },
      }),
    );
    const chat = doc.paths['/v1/chat/completions'].post!;
    expect(chat.responses['413']).toMatchObject({ description: 'body_too_large', ...envelope });
    expect(chat.responses['429']).toMatchObject({
      description: 'insufficient_quota, rate_limit_exceeded',
    });
    const headersOf = (status: string) =>
      Object.keys((chat.responses[status] as { headers?: object }).headers ?? {}).sort();
    expect(headersOf('200')).toEqual([
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-request-id',
    ]);
    expect(headersOf('401')).toEqual(['x-request-id']);
    expect(headersOf('503')).toContain('retry-after');
    expect(headersOf('429')).toContain('retry-after');
    const models = doc.paths['/v1/models'].get!;
    expect(models.responses['413']).toBeUndefined();
    expect(models.responses['429']).toMatchObject({ description: 'rate_limit_exceeded' });
  });
});
