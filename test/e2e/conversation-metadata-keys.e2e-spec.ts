import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 9: metadata keys that happen to name Object.prototype members are data like
 * any other key: stored, returned by PATCH and GET, listed, and copied by fork.
 */
describe('conversation metadata keys named like Object.prototype members', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const metadata = {
    constructor: 'c',
    toString: 't',
    valueOf: 'v',
    hasOwnProperty: 'h',
    isPrototypeOf: 'i',
    prototype: 'p',
    propertyIsEnumerable: 'e',
    toLocaleString: 'l',
    ordinary: 'o',
  };

  it('stores every key and returns it from PATCH, GET, the list and a fork', async () => {
    const created = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'hello' }],
    });
    expect(created.status).toBe(200);
    const id = created.body.conversation_id as string;

    const patched = await gw.patch(`/c1/conversations/${id}`, { metadata });
    expect(patched.status).toBe(200);
    expect(patched.body.metadata).toEqual(metadata);

    const read = await gw.get(`/c1/conversations/${id}`);
    expect(read.body.metadata).toEqual(metadata);

    const listed = await gw.get('/c1/conversations?limit=100');
    expect(listed.body.data.find((c: { id: string }) => c.id === id).metadata).toEqual(metadata);

    const fork = await gw.post(`/c1/conversations/${id}/fork`, {
      message_id: read.body.messages[1].id,
    });
    expect(fork.status).toBe(201);
    expect(fork.body.metadata).toEqual(metadata);
  });

  it('still counts those keys toward the 16-key limit', async () => {
    const created = await gw.post('/c1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'limit' }],
    });
    const id = created.body.conversation_id as string;
    const tooMany: Record<string, string> = { ...metadata };
    for (let i = 0; Object.keys(tooMany).length < 17; i++) {
      tooMany[`k${i}`] = 'x';
    }
    const res = await gw.patch(`/c1/conversations/${id}`, { metadata: tooMany });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_field', param: 'metadata' });
  });
});
