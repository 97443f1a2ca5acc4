import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 2: a message's `name`, tool-call ids and reasoning signatures were neither
 * capped, nor weighed by the history cache, nor counted by the history window: one 8 MB
 * `name` was forwarded upstream on every later turn without `history_truncated`.
 */
const HUGE = 'n'.repeat(8 * 1024 * 1024);

describe('stored identifier fields are capped and counted (#22 item 2)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ answer: 'ok' });
    gw = await startGateway({
      models: fakeModelCatalog(upstream.url, { contextWindow: 1_000, maxOutputTokens: 100 }),
    });
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it.each([
    ['an 8 MB name', [{ role: 'user', name: HUGE, content: 'hi' }], 'messages[0].name'],
    [
      'a 257-character name',
      [{ role: 'user', name: 'n'.repeat(257), content: 'hi' }],
      'messages[0].name',
    ],
    [
      'a 300-character tool-call id',
      [
        { role: 'user', content: 'call it' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'c'.repeat(300), type: 'function', function: { name: 'f', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'c', content: 'done' },
      ],
      'messages[1].tool_calls[0].id',
    ],
    [
      'a 300-character tool_call_id',
      [
        { role: 'user', content: 'call it' },
        { role: 'tool', tool_call_id: 'c'.repeat(300), content: 'done' },
      ],
      'messages[1].tool_call_id',
    ],
  ])(
    'refuses %s on /c1/chat/completions with invalid_field at its path',
    async (_, messages, param) => {
      const before = upstream.received.length;
      const res = await gw.post('/c1/chat/completions', { model: 'fake', messages });
      expectApiError(res, 400, 'invalid_field', { param });
      expect(upstream.received.length).toBe(before);
    },
  );

  it('refuses a reasoning signature over 64 KiB on /c1/messages at its path', async () => {
    const res = await gw.post('/c1/messages', {
      model: 'fake',
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'think' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'hm', signature: 's'.repeat(64 * 1024 + 1) },
            { type: 'text', text: 'so' },
          ],
        },
        { role: 'user', content: 'and?' },
      ],
    });
    expectApiError(res, 400, 'invalid_field', { param: 'messages[1].content[0].signature' });
  });

  it('accepts a 256-character name and counts it in the window: history_truncated once names fill it', async () => {
    // ~100 tokens of name per turn; the window is 1,000 - 100 = 900 tokens. Uncounted, ten turns
    // of 'hi' would all be forwarded (a few tokens each).
    const name = (i: number) =>
      Array.from({ length: 64 }, (_, k) => `${String.fromCharCode(97 + ((i + k) % 26))}q`)
        .join('')
        .repeat(2);
    let id: string | null = null;
    let applied: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res: GatewayResponse = await gw.post(
        '/c1/chat/completions',
        {
          model: 'fake',
          max_tokens: 100,
          messages: [{ role: 'user', name: name(i), content: 'hi' }],
        },
        id ? { headers: { 'x-conversation-id': id } } : {},
      );
      expect(res.status).toBe(200);
      id = res.headers.get('x-conversation-id');
      applied = res.headers.get('x-parley-applied');
    }
    expect(applied).toMatch(/history_truncated=\d+/);
    const forwarded = upstream.received.at(-1)!.body.messages as unknown[];
    expect(forwarded.length).toBeLessThan(19);
  });
});
