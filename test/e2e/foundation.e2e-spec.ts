import { ERROR_CODES } from 'src/common/errors/error-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { startGateway, TestGateway } from 'test/support/start-gateway';

describe('foundation', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ env: { MAX_BODY_BYTES: '4096' } });
  });
  afterAll(() => gw.close());

  it('answers /healthz without credentials', async () => {
    const res = await gw.get('/healthz', { key: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('reports the database in /readyz', async () => {
    const res = await gw.get('/readyz', { key: null });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ready');
    expect(res.body.checks.database).toEqual({ status: 'up' });
  });

  it('serves the whole error catalog at /errors', async () => {
    const res = await gw.get('/errors', { key: null });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(ERROR_CODES.length);
    expect(res.body.entries.map((e: { code: string }) => e.code).sort()).toEqual(
      [...ERROR_CODES].sort(),
    );
    for (const entry of res.body.entries) {
      expect(Object.keys(entry).sort()).toEqual(
        [
          'code',
          'description',
          'http_status',
          'remediation',
          'title',
          'type',
          'typical_param',
        ].sort(),
      );
    }
  });

  it('answers an unknown route with 404 route_not_found', async () => {
    expectApiError(await gw.get('/nope', { key: null }), 404, 'route_not_found', { param: null });
    expectApiError(await gw.post('/healthz', { a: 1 }, { key: null }), 404, 'route_not_found', {
      param: null,
    });
  });

  it('answers unparseable JSON with 400 invalid_json', async () => {
    const res = await gw.request('POST', '/errors', undefined, { raw: '{"a":', key: null });
    expectApiError(res, 400, 'invalid_json', { param: null });
  });

  it('answers a body over MAX_BODY_BYTES with 413 body_too_large', async () => {
    const res = await gw.request('POST', '/errors', undefined, {
      raw: JSON.stringify({ pad: 'x'.repeat(10_000) }),
      key: null,
    });
    expectApiError(res, 413, 'body_too_large', { param: null });
  });

  it('answers a ".." path, raw or percent-encoded, with 400 invalid_path', async () => {
    for (const path of ['/v1/../errors', '/v1/%2e%2e/errors', '/v1/%252e%252e/x', '/a/.%2E/b']) {
      expectApiError(await gw.raw('GET', path), 400, 'invalid_path', { param: null });
    }
  });

  it('echoes a sane x-request-id and replaces an insane one', async () => {
    const sane = await gw.get('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(sane.headers.get('x-request-id')).toBe('abc-123');
    const insane = await gw.get('/healthz', { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await gw.get('/nope');
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('serves the OpenAPI document with the error envelope schema', async () => {
    const res = await gw.get('/openapi.json', { key: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.components.schemas.ErrorEnvelopeDto).toBeDefined();
    const docs = await gw.get('/docs', { key: null });
    expect(docs.status).toBe(200);
  });

  it('writes one JSON log line per request with its request id', async () => {
    await gw.get('/healthz', { headers: { 'x-request-id': 'log-line-probe' } });
    const line = gw.logs.find((l) => l.reqId === 'log-line-probe' && l.msg === 'request');
    expect(line).toMatchObject({ method: 'GET', route: '/healthz', status: 200 });
  });
});
