import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';

/** GET /c1/conversations?q=…: full-text search over the caller's own messages (issue #19). */
describe('/c1/conversations?q= (search)', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let bobKey: string;
  let serviceKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
    serviceKey = (await createKey(gw, { name: 'svc', user_id: 'svc', role: 'service' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function say(
    text: string,
    options: { key?: string; conversation?: string; headers?: Record<string, string> } = {},
  ) {
    const res = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages: [{ role: 'user', content: text }] },
      {
        key: options.key,
        headers: {
          ...(options.conversation ? { 'x-conversation-id': options.conversation } : {}),
          ...options.headers,
        },
      },
    );
    expect(res.status).toBe(200);
    return res.body.conversation_id as string;
  }

  const search = (q: string, key?: string, extra = '') =>
    gw.get(`/c1/conversations?q=${encodeURIComponent(q)}${extra}`, { key });

  it('finds exact words with the conversation, the message and a highlighted snippet', async () => {
    const id = await say('The quarterly zeppelin inspection found <b>rust</b> on the gondola');
    const res = await search('zeppelin');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ object: 'list', has_more: false, next_cursor: null });
    const detail = await gw.get(`/c1/conversations/${id}`);
    const ids = detail.body.messages.map((m: any) => m.id);
    expect(res.body.data).toHaveLength(2); // the question and the echoed answer
    for (const hit of res.body.data) {
      expect(hit).toMatchObject({ object: 'conversation.search_hit', conversation_id: id });
      expect(ids).toContain(hit.message_id);
      expect(hit.snippet).toContain('<mark>zeppelin</mark>');
      // Stored text is escaped: a snippet can be rendered as HTML safely.
      expect(hit.snippet).toContain('&lt;b&gt;rust&lt;/b&gt;');
      expect(hit.snippet).not.toContain('<b>');
    }
    expect(res.body.data.map((h: any) => h.role).sort()).toEqual(['assistant', 'user']);
  });

  it('finds stems: "running fjord" finds "runs through the fjords"', async () => {
    await say('Our marathoner runs through the fjords every morning');
    const res = await search('running fjord');
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeGreaterThan(0);
    expect(res.body.data[0].snippet).toMatch(/<mark>runs<\/mark>.*<mark>fjords<\/mark>/);
  });

  it('finds CJK substrings, of three characters and of two', async () => {
    const id = await say('昨日は東京タワーに行きました。とても高かったです。');
    for (const q of ['東京タワー', '東京', 'タワーに行き']) {
      const res = await search(q);
      expect(res.status).toBe(200);
      const hits = res.body.data.filter((h: any) => h.conversation_id === id);
      expect(hits.length).toBe(2);
      expect(hits[0].snippet).toContain(`<mark>${q}</mark>`);
    }
    expect((await search('大阪')).body.data).toEqual([]);
    // Mixed text is found by its Latin words too; deleting forgets both kinds of index entry.
    const mixed = await say('Meeting notes: 会議資料 for the quokka project');
    expect((await search('quokka')).body.data).toHaveLength(2);
    expect((await search('会議資料')).body.data).toHaveLength(2);
    for (const gone of [id, mixed]) {
      expect((await gw.delete(`/c1/conversations/${gone}`)).status).toBe(200);
    }
    expect((await search('東京タワー')).body.data).toEqual([]);
    expect((await search('会議資料')).body.data).toEqual([]);
    expect((await search('quokka')).body.data).toEqual([]);
  });

  it('never matches another user’s text, nor another end user of the same service', async () => {
    await say('a secret about the xylophonist in the attic', { key: bobKey });
    await say('the xylophonist tunes at dawn', {
      key: serviceKey,
      headers: { 'x-user-id': 'carol' },
    });
    const alice = await search('xylophonist');
    expect(alice.status).toBe(200);
    expect(alice.body.data).toEqual([]);
    const bob = await search('xylophonist', bobKey);
    expect(bob.body.data).toHaveLength(2);
    expect(bob.body.data.every((h: any) => h.snippet.includes('attic'))).toBe(true);
    const carol = await gw.get('/c1/conversations?q=xylophonist', {
      key: serviceKey,
      headers: { 'x-user-id': 'carol' },
    });
    expect(carol.body.data).toHaveLength(2);
    expect(carol.body.data.every((h: any) => h.snippet.includes('dawn'))).toBe(true);
    const dave = await gw.get('/c1/conversations?q=xylophonist', {
      key: serviceKey,
      headers: { 'x-user-id': 'dave' },
    });
    expect(dave.body.data).toEqual([]);
  });

  it('reads query syntax as text: quotes, stars, NEAR, OR, columns and LIKE wildcards', async () => {
    await say('plain words about a pelican');
    for (const q of [
      '"',
      '"pelican',
      'pel*',
      'NEAR(pelican words)',
      'pelican OR',
      'owner:x',
      'body:pelican',
      '^pelican',
      '%',
      '_',
      '\\',
      "pelican'; DROP TABLE messages; --",
      '東%',
      '(',
      ')',
      '-pelican',
      '!',
      '& |',
    ]) {
      const res = await search(q);
      expect(res.status).toBe(200);
      expect(Array.isArray(res.body.data)).toBe(true);
    }
    // Operators are words: "pelican OR zzz" needs both words, so it finds nothing.
    expect((await search('pelican OR zzzunknown')).body.data).toEqual([]);
    expect((await search('pelican')).body.data.length).toBe(2);
    expect((await search('%')).body.data).toEqual([]);
    expect((await search('東%')).body.data).toEqual([]);
  });

  it('pages ranked hits with a cursor and bounds the query length', async () => {
    const id = await say('walrus one');
    for (let i = 0; i < 2; i++) {
      await say(`walrus again ${i}`, { conversation: id });
    }
    const seen: string[] = [];
    let after = '';
    for (let page = 0; page < 10; page++) {
      const res = await search('walrus', undefined, `&limit=4${after ? `&after=${after}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.data.map((h: any) => h.message_id));
      if (!res.body.has_more) {
        expect(res.body.next_cursor).toBeNull();
        break;
      }
      after = res.body.next_cursor;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    expectApiError(await search('x'.repeat(257)), 400, 'invalid_field', { param: 'q' });
    expectApiError(await search('walrus', undefined, '&after=bogus'), 400, 'invalid_field', {
      param: 'after',
    });
    expect((await search('   ')).body).toEqual({
      object: 'list',
      data: [],
      has_more: false,
      next_cursor: null,
    });
  });

  it('forgets a deleted conversation’s messages', async () => {
    const id = await say('the ephemeral narwhal');
    expect((await search('narwhal')).body.data).toHaveLength(2);
    expect((await gw.delete(`/c1/conversations/${id}`)).status).toBe(200);
    expect((await search('narwhal')).body.data).toEqual([]);
  });
});
