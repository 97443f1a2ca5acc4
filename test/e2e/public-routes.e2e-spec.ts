import { routesOf } from 'src/common/http/route-table';
import { expectApiError } from 'test/support/expect-api-error';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * The routes anyone may call without a key (issue #3). Adding a route to this list is a
 * decision to review, not a fix for a failing test.
 */
const PUBLIC_ROUTES = [
  '/healthz',
  '/readyz',
  '/errors',
  '/openapi.json',
  '/docs',
  // Console sign-in and sign-out: how a session is obtained (SPEC "Console and sessions").
  '/api/login',
  '/api/logout',
  // The console web app: a page and its built assets, no data (that comes from /api).
  '/console',
  '/console/assets/:file',
];

/**
 * Swagger UI's own assets under /docs, registered by @nestjs/swagger's static plugin: they
 * cannot be moved behind the guard without breaking the UI, and serve only the UI's files.
 */
const DOCS_ASSET_ROUTES = [
  '/docs/',
  '/docs/*',
  '/docs/LICENSE',
  '/docs/index.html',
  '/docs/swagger-ui-init.js',
  '/docs/docs/swagger-ui-init.js',
];

/** A concrete path for a route template: parameters become `x`, a wildcard an asset name. */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z0-9_]+/g, 'x').replace(/\*$/, 'swagger-ui.css');
}

/** Walks every route without credentials; the set of route templates that did not answer 401. */
async function publicRoutesOf(gw: TestGateway): Promise<{ open: string[]; closed: string[] }> {
  const routes = routesOf(gw.app.getHttpAdapter().getInstance());
  expect(routes.length).toBeGreaterThan(10);
  const open = new Set<string>();
  const closed: string[] = [];
  for (const { method, url } of routes) {
    const res = await gw.raw(method, concrete(url));
    if (res.status === 401) {
      closed.push(`${method} ${url}`);
      if (url === '/api/me' && method !== 'HEAD') {
        // SPEC: the anonymous answer carries "authenticated": false beside the error.
        const { authenticated, ...envelope } = res.body;
        expect(authenticated).toBe(false);
        expectApiError({ ...res, body: envelope }, 401, 'missing_authorization', { param: null });
      } else if (method !== 'HEAD') {
        expectApiError(res, 401, 'missing_authorization', { param: null });
      }
    } else {
      open.add(url);
    }
  }
  return { open: [...open].sort(), closed };
}

describe('the routes of the running application', () => {
  it('are all closed without credentials, except exactly the public allowlist', async () => {
    // METRICS_TOKEN set: /metrics checks its own token (SPEC "Operations").
    const gw = await startGateway({ env: { METRICS_TOKEN: 'metrics-token-0123456789' } });
    try {
      const { open, closed } = await publicRoutesOf(gw);
      expect(open).toEqual([...PUBLIC_ROUTES, ...DOCS_ASSET_ROUTES].sort());
      expect(closed).toEqual(
        expect.arrayContaining([
          'GET /api/keys',
          'POST /api/keys',
          'DELETE /api/keys/:id',
          'GET /v1/me',
          'GET /metrics',
        ]),
      );
    } finally {
      await gw.close();
    }
  });

  it('add only /metrics when METRICS_TOKEN is unset (SPEC: public unless METRICS_TOKEN)', async () => {
    const gw = await startGateway();
    try {
      const { open } = await publicRoutesOf(gw);
      expect(open).toEqual([...PUBLIC_ROUTES, ...DOCS_ASSET_ROUTES, '/metrics'].sort());
    } finally {
      await gw.close();
    }
  });
});
