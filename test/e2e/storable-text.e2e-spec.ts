import { fakeModelCatalog } from 'test/support/fake-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

const NUL = 'must not contain NUL characters (U+0000)';
const SURROGATE = 'must be valid Unicode text (it holds an unpaired surrogate)';

/**
 * Text a database cannot store as sent (NUL, which PostgreSQL refuses; unpaired surrogates,
 * which UTF-8 drivers replace) is refused with 400 invalid_field naming the field, the same
 * on SQLite and PostgreSQL (this file runs in both e2e projects), and nothing is stored.
 * /v1, which stores nothing, forwards it untouched; answers holding it are stored faithfully.
 */
describe('text the database cannot store', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  const ANSWER = 'an answer with a NUL \u0000 and a lone \ud800 surrogate';

  beforeAll(async () => {
    up = await startFakeUpstream({ answer: ANSWER });
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const turn = (messages: unknown[], options: { id?: string; stream?: boolean } = {}) =>
    gw.post(
      '/c1/chat/completions',
      { ...(options.id ? {} : { model: 'fake' }), stream: options.stream ?? false, messages },
      { headers: options.id ? { 'x-conversation-id': options.id } : {} },
    );
  const conversationCount = async () => (await gw.get('/c1/conversations')).body.data.length;

  it('refuses a /c1 turn holding a NUL or an unpaired surrogate, naming the field, storing nothing', async () => {
    const before = await conversationCount();
    const cases: [unknown[], string, string, boolean][] = [
      [[{ role: 'user', content: 'a\u0000b' }], 'messages[0].content', NUL, false],
      [[{ role: 'user', content: 'a\u0000b' }], 'messages[0].content', NUL, true],
      [
        [
          { role: 'system', content: 'be \u0000 brief' },
          { role: 'user', content: 'hi' },
        ],
        'messages[0].content',
        NUL,
        false,
      ],
      [[{ role: 'user', name: 'n\u0000', content: 'hi' }], 'messages[0].name', NUL, false],
      [
        [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'ok' },
              { type: 'text', text: '\ud800' },
            ],
          },
        ],
        'messages[0].content[1].text',
        SURROGATE,
        false,
      ],
    ];
    for (const [messages, param, problem, stream] of cases) {
      expectApiError(await turn(messages, { stream }), 400, 'invalid_field', {
        param,
        message: `${param} ${problem}`,
      });
    }
    // The escape as a client sends it on the wire, not built by JSON.stringify.
    const raw = await gw.post('/c1/chat/completions', undefined, {
      raw: '{"model":"fake","messages":[{"role":"user","content":"lone \\udc00 low"}]}',
    });
    expectApiError(raw, 400, 'invalid_field', { param: 'messages[0].content' });
    expect(await conversationCount()).toBe(before);
  });

  it('refuses it on a continued conversation without touching its history', async () => {
    const first = await turn([{ role: 'user', content: 'first' }]);
    expect(first.status).toBe(200);
    const id = first.body.conversation_id as string;
    const history = (await gw.get(`/c1/conversations/${id}`)).body.messages;

    expectApiError(
      await turn([{ role: 'user', content: 'x\u0000y' }], { id }),
      400,
      'invalid_field',
      { param: 'messages[0].content' },
    );
    const after = await gw.get(`/c1/conversations/${id}`);
    expect(after.body.messages).toEqual(history);
    expect(after.body.busy).toBe(false);
    // The conversation goes on.
    expect((await turn([{ role: 'user', content: 'second' }], { id })).status).toBe(200);
  });

  it('refuses it in a title, metadata and a key name', async () => {
    const id = (await turn([{ role: 'user', content: 'titled' }])).body.conversation_id as string;
    expectApiError(
      await gw.patch(`/c1/conversations/${id}`, { title: 't\u0000' }),
      400,
      'invalid_field',
      {
        param: 'title',
        message: `title ${NUL}`,
      },
    );
    expectApiError(
      await gw.patch(`/c1/conversations/${id}`, { title: 't\ud800' }),
      400,
      'invalid_field',
      {
        param: 'title',
        message: `title ${SURROGATE}`,
      },
    );
    for (const metadata of [{ k: 'v\u0000' }, { 'k\u0000': 'v' }, { k: '\udfff' }]) {
      expectApiError(
        await gw.patch(`/c1/conversations/${id}`, { metadata }),
        400,
        'invalid_field',
        {
          param: 'metadata',
        },
      );
    }
    expect((await gw.get(`/c1/conversations/${id}`)).body).toMatchObject({
      title: 'titled',
      metadata: null,
    });
    expectApiError(
      await gw.admin('POST', '/api/keys', { name: 'laptop\u0000', user_id: 'alice' }),
      400,
      'invalid_field',
      { param: 'name', message: `name ${NUL}` },
    );
  });

  it('stores an answer holding them exactly as the upstream sent it', async () => {
    const res = await turn([{ role: 'user', content: 'say something odd' }]);
    expect(res.status).toBe(200);
    expect(res.body.choices[0].message.content).toBe(ANSWER);
    const stored = await gw.get(`/c1/conversations/${res.body.conversation_id}`);
    expect(stored.body.messages[1]).toMatchObject({
      role: 'assistant',
      status: 'completed',
      content: ANSWER,
    });
  });

  it('forwards it on /v1, which stores nothing', async () => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'fake',
      messages: [{ role: 'user', content: 'a\u0000b \ud800' }],
    });
    expect(res.status).toBe(200);
    expect(up.received.at(-1)?.body.messages[0].content).toBe('a\u0000b \ud800');
  });
});
