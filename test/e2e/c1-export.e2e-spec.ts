import { request as httpRequest } from 'node:http';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TestGateway } from 'test/support/start-gateway';

/** Export: one conversation as JSON or Markdown, everything as streamed JSON Lines (#19). */
describe('conversation export', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let bobKey: string;

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({ models: fakeModelCatalog(up.url) });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  async function turn(
    messages: unknown[],
    options: { key?: string; conversation?: string; status?: number } = {},
  ) {
    const res = await gw.post(
      '/c1/chat/completions',
      { model: 'fake', messages },
      {
        key: options.key,
        headers: options.conversation ? { 'x-conversation-id': options.conversation } : {},
      },
    );
    expect(res.status).toBe(options.status ?? 200);
    return res;
  }

  async function conversationWithEveryStatus(): Promise<string> {
    const first = await turn([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'What is a *lighthouse*?' },
    ]);
    const id = first.body.conversation_id as string;
    up.next({ kind: 'error', status: 500, body: { error: { message: 'GPU on fire' } } });
    await turn([{ role: 'user', content: 'This one fails' }], { conversation: id, status: 502 });
    await turn([{ role: 'user', content: 'And this ```one``` works' }], { conversation: id });
    return id;
  }

  it('exports one conversation as JSON holding every message and status, as a download', async () => {
    const id = await conversationWithEveryStatus();
    const res = await gw.get(`/c1/conversations/${id}/export?format=json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="conversation-${id}.json"`,
    );
    const detail = await gw.get(`/c1/conversations/${id}`);
    expect(res.body).toEqual(detail.body);
    expect(res.body.messages.map((m: any) => [m.role, m.status])).toEqual([
      ['system', 'completed'],
      ['user', 'completed'],
      ['assistant', 'completed'],
      ['user', 'failed'],
      ['assistant', 'failed'],
      ['user', 'completed'],
      ['assistant', 'completed'],
    ]);
    // json is the default
    expect((await gw.get(`/c1/conversations/${id}/export`)).body).toEqual(res.body);
  });

  it('exports Markdown that reads like the chat: roles, times, statuses and every text', async () => {
    const id = await conversationWithEveryStatus();
    const res = await gw.get(`/c1/conversations/${id}/export?format=markdown`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="conversation-${id}.md"`,
    );
    const md = res.text;
    const detail = (await gw.get(`/c1/conversations/${id}`)).body;
    expect(md).toContain(`# ${detail.title}`);
    const headings = md.split('\n').filter((l) => l.startsWith('### '));
    expect(headings).toHaveLength(detail.messages.length);
    detail.messages.forEach((m: any, i: number) => {
      const role = { system: 'System', user: 'User', assistant: 'Assistant' }[m.role as string];
      expect(headings[i]).toMatch(
        new RegExp(`^### ${role} · \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC · ${m.status}`),
      );
      if (typeof m.content === 'string' && m.content) {
        expect(md).toContain(m.content);
      }
    });
    expect(headings[4]).toContain('error: upstream_error');
    expect(md).toContain('*No answer: the turn failed.*');
    expect(headings[2]).toContain('finish: stop');
  });

  it('answers 404 for another user’s conversation exactly like a missing one, and 400 for a bad format', async () => {
    const id = (await turn([{ role: 'user', content: 'bob only' }], { key: bobKey })).body
      .conversation_id as string;
    const other = await gw.get(`/c1/conversations/${id}/export`);
    const missing = await gw.get(`/c1/conversations/00000000-0000-4000-8000-000000000000/export`);
    expectApiError(other, 404, 'conversation_not_found');
    expect(other.text).toBe(missing.text);
    expectApiError(
      await gw.get(`/c1/conversations/${id}/export?format=pdf`, { key: bobKey }),
      400,
      'invalid_field',
      { param: 'format' },
    );
  });

  it('streams every conversation of the caller, and only the caller’s, as JSON Lines', async () => {
    const carol = (await createKey(gw, { name: 'carol', user_id: 'carol' })).key;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(
        (await turn([{ role: 'user', content: `carol ${i}` }], { key: carol })).body
          .conversation_id,
      );
    }
    await turn([{ role: 'user', content: 'extra turn' }], { key: carol, conversation: ids[3] });
    const res = await gw.get('/c1/export', { key: carol });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="parley-export-\d{4}-\d\d-\d\d\.jsonl"$/,
    );
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const lines = res.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((c) => c.id).sort()).toEqual([...ids].sort());
    for (const line of lines) {
      expect(line).toEqual((await gw.get(`/c1/conversations/${line.id}`, { key: carol })).body);
    }
    expect(lines.find((c) => c.id === ids[3]).messages).toHaveLength(4);
    const empty = await gw.get('/c1/export', {
      key: (await createKey(gw, { name: 'dan', user_id: 'dan' })).key,
    });
    expect(empty.status).toBe(200);
    expect(empty.text).toBe('');
  });

  it('produces only as fast as a slow reader reads (nothing is buffered ahead)', async () => {
    const erin = (await createKey(gw, { name: 'erin', user_id: 'erin' })).key;
    const ids: string[] = [];
    const big = 'lorem ipsum dolor '.repeat(17_000);
    for (let i = 0; i < 30; i++) {
      ids.push(
        (await turn([{ role: 'user', content: `${i} ${big}` }], { key: erin })).body
          .conversation_id,
      );
    }
    const last = [...ids].sort()[ids.length - 1];
    const url = new URL(`${gw.url}/c1/export`);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          headers: { authorization: `Bearer ${erin}` },
        },
        (res) => {
          res.pause();
          // While the reader sleeps, the conversation exported last is deleted: a server that
          // had read (and buffered) everything up front would still send it.
          setTimeout(() => {
            void gw.delete(`/c1/conversations/${last}`, { key: erin }).then((del) => {
              expect(del.status).toBe(200);
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', resolve);
              res.resume();
            }, reject);
          }, 1000);
        },
      );
      req.on('error', reject);
      req.end();
    });
    const lines = Buffer.concat(chunks)
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((c) => c.id).sort()).toEqual(ids.filter((id) => id !== last).sort());
  });
});
