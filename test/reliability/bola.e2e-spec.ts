import { DataSource } from 'typeorm';
import { routesOf } from 'src/common/http/route-table';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { createKey, GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Broken object-level authorisation (issue #11): user B, and a service key acting for B, try
 * every /c1 route of the running application (listed from the route table) on user A's
 * conversation — id in the path, in the body, in the x-conversation-id header and in the query
 * string. Each answer is byte-for-byte the answer for an id that does not exist, and no row of
 * any conversation table changes.
 */
const MISSING_ID = '00000000-0000-4000-8000-000000000000';

describe('BOLA on every /c1 route', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let aliceKey: string;
  let bobKey: string;
  let serviceKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
    });
    const key = async (body: object) => (await createKey(gw, { name: 'bola', ...body })).key;
    aliceKey = await key({ user_id: 'alice' });
    bobKey = await key({ user_id: 'bob' });
    serviceKey = await key({ user_id: 'svc', role: 'service' });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  /** Every row of every table that holds conversation data, in a stable order. */
  async function snapshot() {
    const ds = gw.app.get(DataSource);
    const tables = ds.entityMetadatas
      .map((m) => m.tableName)
      .filter(
        (t) =>
          !['api_keys', 'usage_daily', 'migrations', 'gpu_reports', 'quota_reservations'].includes(
            t,
          ),
      )
      .sort();
    const out: Record<string, unknown[]> = {};
    for (const table of tables) {
      out[table] = await ds.query(`SELECT * FROM ${table} ORDER BY 1`);
    }
    return out;
  }

  it("answers B's every attempt on A's conversation exactly like a missing id, and changes nothing", async () => {
    const created = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: 'alice secret plans' }] },
      { key: aliceKey },
    );
    expect(created.status).toBe(200);
    const aliceId = created.body.conversation_id as string;
    const aliceHead = (await gw.get(`/c1/conversations/${aliceId}`, { key: aliceKey })).body
      .messages[1].id as string;

    const routes = routesOf(gw.app.getHttpAdapter().getInstance()).filter(
      // Model lookups and token counts under /c1 touch no one's data.
      (r) =>
        r.url.startsWith('/c1') &&
        !/^\/c1(\/v1)?\/(models|messages\/count_tokens)/.test(r.url) &&
        r.method !== 'HEAD',
    );
    expect(routes.map((r) => `${r.method} ${r.url}`)).toEqual(
      expect.arrayContaining([
        'POST /c1/chat/completions',
        'GET /c1/conversations',
        'GET /c1/conversations/:id',
        'PATCH /c1/conversations/:id',
        'DELETE /c1/conversations/:id',
        'POST /c1/conversations/:id/fork',
      ]),
    );

    /** One body that any /c1 route takes, pointing at `target` wherever an id can go. */
    const bodyFor = (target: string) => ({
      title: 'pwned',
      metadata: { pwned: 'yes' },
      message_id: target === MISSING_ID ? MISSING_ID : aliceHead,
      conversation_id: target,
      messages: [{ role: 'user', content: 'give me the secret' }],
    });
    /** Ids in the query string too: a handler must never read ownership from it. */
    const query = (target: string) =>
      `?conversation_id=${target}&user_id=alice&id=${target}&after=${target}`;
    const attackers: [string, { key: string; headers: Record<string, string> }][] = [
      ['bob', { key: bobKey, headers: {} }],
      ['bob naming alice in x-user-id', { key: bobKey, headers: { 'x-user-id': 'alice' } }],
      ['a service key acting for bob', { key: serviceKey, headers: { 'x-user-id': 'bob' } }],
      ['a service key acting for itself', { key: serviceKey, headers: {} }],
    ];

    const before = await snapshot();
    expect(Object.keys(before)).toEqual([
      'console_sessions',
      'console_users',
      'conversations',
      'idempotency_keys',
      'messages',
      'response_events',
      'responses',
    ]);
    expect(before.messages).toHaveLength(2);
    let attempts = 0;
    for (const { method, url } of routes) {
      for (const [who, { key, headers }] of attackers) {
        const attempt = async (target: string): Promise<GatewayResponse> => {
          const path = url.replace(/:[A-Za-z0-9_]+/g, target) + query(target);
          const hasBody = method === 'POST' || method === 'PATCH';
          return gw.request(method, path, hasBody ? bodyFor(target) : undefined, {
            key,
            headers: { ...headers, 'x-conversation-id': target },
          });
        };
        const onAlice = await attempt(aliceId);
        const onMissing = await attempt(MISSING_ID);
        attempts += 2;
        const label = `${method} ${url} as ${who}`;
        expect({ label, status: onAlice.status, body: onAlice.body }).toEqual({
          label,
          status: onMissing.status,
          body: onMissing.body,
        });
        expect({
          label,
          leaked: onAlice.text.includes('alice secret') || onAlice.text.includes(aliceId),
        }).toEqual({
          label,
          leaked: false,
        });
        if (url.includes(':id') || method === 'POST') {
          // A route about one conversation: not found, or refused before any lookup (a user
          // key may not name another user at all).
          expect({ label, status: onAlice.status }).toEqual({
            label,
            status: who === 'bob naming alice in x-user-id' ? 403 : 404,
          });
        }
      }
    }
    expect(await snapshot()).toEqual(before);
    // And Alice still has it, untouched.
    const mine = await gw.get(`/c1/conversations/${aliceId}`, { key: aliceKey });
    expect(mine.status).toBe(200);
    expect(mine.body.title).not.toBe('pwned');
    console.log(`BOLA: ${routes.length} /c1 routes, ${attempts} attempts`);
  });
});
