import { routesOf } from 'src/common/http/route-table';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';
import { CONSOLE_ADMIN_PASSWORD, signIn } from 'test/support/console-session';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  GatewayResponse,
  startGateway,
  TEST_ADMIN_TOKEN,
  TEST_API_KEY,
  TestGateway,
} from 'test/support/start-gateway';

/**
 * Every route of the running application (from the route table, so a new route is covered
 * without anyone listing it) × every credential shape (issue #11): only the credential the
 * route takes gets through, and every refused key gets the very same 401 body.
 */
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
/** The routes anyone may call (asserted by test/e2e/public-routes.e2e-spec.ts). */
const isPublic = (url: string) =>
  ['/healthz', '/readyz', '/errors', '/openapi.json'].includes(url) ||
  url.startsWith('/docs') ||
  url.startsWith('/console') ||
  CONSOLE_SIGN_IN_ROUTES.includes(url);
/** Console sign-in: takes a password or a session, never a bearer secret (own tests below). */
const CONSOLE_SIGN_IN_ROUTES = ['/api/login', '/api/logout', '/api/me'];
const isMutation = (method: string) => !['GET', 'HEAD', 'OPTIONS'].includes(method);
/**
 * Which secret a route takes: GPU node reports a key with role node, admin routes ADMIN_TOKEN,
 * /metrics its token, the rest a key.
 */
const secretFor = (method: string, url: string, nodeKey: string) =>
  method === 'POST' && url === '/api/gpu-stats'
    ? nodeKey
    : url.startsWith('/api/')
      ? TEST_ADMIN_TOKEN
      : url === '/metrics'
        ? METRICS_TOKEN
        : TEST_API_KEY;
const concrete = (url: string) =>
  url.replace(/:[A-Za-z0-9_]+/g, '00000000-0000-4000-8000-000000000000');

describe('auth matrix: every route × every credential', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let revokedKey: string;
  let deletedKey: string;
  let otherKey: string;
  let nodeKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      env: { METRICS_TOKEN, CONSOLE_ADMIN_PASSWORD, CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: '1000' },
      models: fakeModelCatalog(up.url),
    });
    const create = async () =>
      (await gw.admin('POST', '/api/keys', { name: 'matrix', user_id: 'matrix' })).body as {
        id: string;
        key: string;
      };
    const revoked = await create();
    expect((await gw.admin('PATCH', `/api/keys/${revoked.id}`, { is_active: false })).status).toBe(
      200,
    );
    revokedKey = revoked.key;
    const deleted = await create();
    expect((await gw.admin('DELETE', `/api/keys/${deleted.id}`)).status).toBe(200);
    deletedKey = deleted.key;
    otherKey = (await create()).key;
    nodeKey = (await gw.admin('POST', '/api/keys', { name: 'gpu', user_id: 'gpu', role: 'node' }))
      .body.key as string;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  /** Credential shapes that must be refused with 401 invalid_authorization on any route. */
  const badCredentials = (secret: string): Record<string, Record<string, string>> => ({
    'unknown key': { authorization: 'Bearer pk-unknown-0123456789abcdef0123' },
    'no scheme': { authorization: secret },
    'Basic scheme': { authorization: `Basic ${Buffer.from(`u:${secret}`).toString('base64')}` },
    'scheme only': { authorization: 'Bearer' },
    'token with trailing garbage': { authorization: `Bearer ${secret} x` },
    'token with a NUL-like escape': { authorization: `Bearer ${secret}%00` },
    'a 20 KB token': { authorization: `Bearer ${'k'.repeat(20 * 1024)}` },
    'a 20 KB x-api-key': { 'x-api-key': 'k'.repeat(20 * 1024) },
    'a revoked key': { authorization: `Bearer ${revokedKey}` },
    'a deleted key': { authorization: `Bearer ${deletedKey}` },
    'the wrong kind of secret': {
      authorization: `Bearer ${secret === TEST_API_KEY || secret === nodeKey ? TEST_ADMIN_TOKEN : TEST_API_KEY}`,
    },
    'conflicting Authorization and x-api-key': {
      authorization: `Bearer ${secret}`,
      'x-api-key': secret === TEST_API_KEY ? otherKey : `${secret}x`,
    },
    'a malformed Authorization beside a valid x-api-key': {
      authorization: 'Basic dXNlcjpwYXNz',
      'x-api-key': secret,
    },
  });

  async function call(
    method: string,
    url: string,
    headers: Record<string, string>,
  ): Promise<GatewayResponse> {
    const hasBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
    return gw.raw(method, concrete(url), {
      headers: hasBody ? { ...headers, 'content-type': 'application/json' } : headers,
      body: hasBody ? '{}' : undefined,
    });
  }

  it('refuses every bad credential on every protected route with one identical 401 body, and lets the right one through', async () => {
    const routes = routesOf(gw.app.getHttpAdapter().getInstance()).filter(
      (r) => !isPublic(r.url) && r.method !== 'HEAD' && r.method !== 'OPTIONS',
    );
    const templates = routes.map((r) => `${r.method} ${r.url}`);
    expect(templates).toEqual(
      expect.arrayContaining([
        'POST /v1/chat/completions',
        'POST /v1/messages',
        'POST /v1/embeddings',
        'POST /c1/chat/completions',
        'GET /c1/conversations/:id',
        'DELETE /api/keys/:id',
        'GET /metrics',
      ]),
    );
    // The refusal text per kind of secret (API key, admin token, metrics token).
    const invalidBodies = new Map<string, Set<string>>();
    let calls = 0;
    for (const { method, url } of routes) {
      const secret = secretFor(method, url, nodeKey);
      const missing = await call(method, url, {});
      calls++;
      expect({
        route: `${method} ${url}`,
        status: missing.status,
        code: missing.body?.error?.code,
      }).toEqual({
        route: `${method} ${url}`,
        status: 401,
        code: 'missing_authorization',
      });
      for (const [name, headers] of Object.entries(badCredentials(secret))) {
        if (secret === METRICS_TOKEN && 'x-api-key' in headers) {
          continue; // /metrics reads only Authorization (Prometheus' bearer_token)
        }
        const res = await call(method, url, headers);
        calls++;
        expect({
          route: `${method} ${url}`,
          name,
          status: res.status,
          challenge: res.headers.get('www-authenticate'),
        }).toEqual({
          route: `${method} ${url}`,
          name,
          status: 401,
          challenge: 'Bearer realm="parley"',
        });
        const kind = secret === TEST_API_KEY || secret === nodeKey ? 'api key' : url;
        invalidBodies.set(kind, new Set([...(invalidBodies.get(kind) ?? []), res.text]));
      }
      const valid: Record<string, string>[] = [
        { authorization: `Bearer ${secret}` },
        { authorization: `bearer ${secret}` },
        ...(secret === TEST_API_KEY || secret === nodeKey ? [{ 'x-api-key': secret }] : []),
      ];
      for (const headers of valid) {
        const res = await call(method, url, headers);
        calls++;
        // Through the guard: whatever the route answers next (200, 400 for `{}`, 404 for the
        // made-up id), it is not an authentication or permission refusal.
        expect({
          route: `${method} ${url}`,
          headers,
          refused: [401, 403].includes(res.status),
        }).toEqual({
          route: `${method} ${url}`,
          headers,
          refused: false,
        });
      }
    }
    // One body per kind of secret, on every route and for every refused credential: nothing
    // tells a revoked key from a deleted one or a typo.
    for (const [kind, texts] of invalidBodies) {
      expect({ kind, bodies: [...texts].map((t) => JSON.parse(t)) }).toEqual({
        kind,
        bodies: [
          {
            error: {
              type: 'authentication_error',
              code: 'invalid_authorization',
              message: expect.any(String),
              param: null,
            },
          },
        ],
      });
    }
    expect(invalidBodies.size).toBeGreaterThanOrEqual(3);
    console.log(`auth matrix: ${routes.length} routes, ${calls} calls`);
  });

  it('takes a console session on every /api route: reads freely, mutations only with the CSRF token and the admin role', async () => {
    await gw.app.get(ConsoleUsersService).create('matrix-viewer', 'viewer-password-1', 'viewer');
    const admin = await signIn(gw);
    const viewer = await signIn(gw, 'matrix-viewer', 'viewer-password-1');
    const operatorRoutes = routesOf(gw.app.getHttpAdapter().getInstance()).filter(
      (r) =>
        r.url.startsWith('/api/') &&
        !CONSOLE_SIGN_IN_ROUTES.includes(r.url) &&
        !(r.method === 'POST' && r.url === '/api/gpu-stats') && // a node key's route, not an operator's
        r.method !== 'HEAD' &&
        r.method !== 'OPTIONS',
    );
    expect(operatorRoutes.length).toBeGreaterThanOrEqual(5);
    const outcome = async (method: string, url: string, headers: Record<string, string>) => {
      const res = await call(method, url, headers);
      return [401, 403].includes(res.status) ? `${res.status} ${res.body?.error?.code}` : 'through';
    };
    for (const { method, url } of operatorRoutes) {
      const route = `${method} ${url}`;
      const stale = { cookie: `parley_session=${'C'.repeat(43)}` };
      expect({ route, outcome: await outcome(method, url, stale) }).toEqual({
        route,
        outcome: '401 invalid_authorization',
      });
      const noToken = { cookie: admin.cookie };
      const withToken = { cookie: admin.cookie, 'x-csrf-token': admin.csrf };
      const asViewer = { cookie: viewer.cookie, 'x-csrf-token': viewer.csrf };
      expect({
        route,
        noToken: await outcome(method, url, noToken),
        withToken: await outcome(method, url, withToken),
        viewer: await outcome(method, url, asViewer),
      }).toEqual({
        route,
        noToken: isMutation(method) ? '403 csrf_failed' : 'through',
        withToken: 'through',
        viewer: isMutation(method) ? '403 console_role_forbidden' : 'through',
      });
    }
    // The sign-in routes: /api/me answers the session, not a bearer secret.
    const me = await call('GET', '/api/me', { cookie: viewer.cookie });
    expect(me.body).toMatchObject({ authenticated: true, user: 'matrix-viewer', role: 'viewer' });
    const meByToken = await call('GET', '/api/me', { authorization: `Bearer ${TEST_ADMIN_TOKEN}` });
    expect(meByToken.body).toMatchObject({
      authenticated: false,
      error: { code: 'missing_authorization' },
    });
  });
});
