import { expectApiError } from 'test/support/expect-api-error';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 10: two refusals of Fastify's router, before any hook runs, answered in
 * Fastify's own JSON instead of the catalog envelope.
 */
describe('router errors in the catalog envelope (#22 item 10)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it.each([
    ['a path parameter over 200 characters', `/c1/conversations/${'a'.repeat(201)}`],
    ['a bad percent-escape', '/c1/conversations/%zz'],
    ['a truncated percent-escape', '/api/keys/%E0%A4%A'],
  ])('answers %s with 400 invalid_path, with or without a key', async (_, path) => {
    for (const key of [undefined, null]) {
      const res = await gw.raw('GET', path, {
        headers: key === null ? {} : { authorization: 'Bearer pk-test-0123456789abcdef0123456789' },
      });
      expectApiError(res, 400, 'invalid_path', { param: null });
      expect(res.headers.get('x-request-id')).toBeTruthy();
      expect(res.text).not.toContain('FST_ERR');
    }
  });
});
