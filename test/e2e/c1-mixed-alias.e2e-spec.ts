import { openConstraints } from 'test/support/fake-catalog';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { GatewayResponse, startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * /c1/chat/completions on an alias whose upstreams mix `openai` and `anthropic`: the Anthropic
 * request is rendered only when the anthropic upstream is chosen, so what only Chat
 * Completions can express (JSON `response_format`) is served by the openai upstream and
 * refused (400) only where it would have to go to Anthropic.
 */

const constraints = openConstraints();
const JSON_FORMAT = { response_format: { type: 'json_object' } };

describe('/c1/chat/completions on a mixed-format alias', () => {
  let oa: FakeUpstream;
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    oa = await startFakeUpstream();
    an = await startFakeAnthropicUpstream();
    const anthropicUpstream = {
      url: an.url,
      format: 'anthropic',
      model: 'claude-upstream',
      api_key_env: 'FAKE_ANTHROPIC_KEY',
    };
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-upstream-0123456789' },
      models: {
        models: [
          {
            alias: 'mixed',
            upstreams: [
              { url: oa.url, format: 'openai', model: 'gpt-upstream' },
              anthropicUpstream,
            ],
            constraints,
          },
          {
            alias: 'claude',
            upstreams: [anthropicUpstream],
            constraints,
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await oa?.close();
    await an?.close();
  });

  const chat = (body: Record<string, unknown>, conversationId?: string) =>
    gw.post('/c1/chat/completions', body, {
      headers: conversationId ? { 'x-conversation-id': conversationId } : {},
    });
  const counts = () => ({ openai: oa.received.length, anthropic: an.received.length });

  /**
   * A conversation on `mixed` whose turns go to the upstream of `format`: a turn keeps its
   * conversation's upstream (affinity by conversation id), so new conversations are started
   * until one lands there (each is a coin toss; 30 tries).
   */
  async function conversationOn(format: 'openai' | 'anthropic'): Promise<string> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const before = counts();
      const res = await chat({ model: 'mixed', messages: [{ role: 'user', content: 'Hello' }] });
      expect(res.status).toBe(200);
      const after = counts();
      if (after[format] === before[format] + 1) {
        return res.body.conversation_id;
      }
    }
    throw new Error(`no conversation landed on the ${format} upstream`);
  }

  it('serves a JSON response_format turn from the openai upstream of a mixed alias', async () => {
    const id = await conversationOn('openai');
    const before = counts();
    const res = await chat(
      { messages: [{ role: 'user', content: 'As JSON' }], ...JSON_FORMAT },
      id,
    );
    expect(res.status).toBe(200);
    expect(res.body.conversation_id).toBe(id);
    expect(res.body.choices[0].message.role).toBe('assistant');
    expect(counts()).toEqual({ openai: before.openai + 1, anthropic: before.anthropic });
    const forwarded = oa.received[oa.received.length - 1].body;
    expect(forwarded.response_format).toEqual({ type: 'json_object' });
    expect(forwarded.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(forwarded.messages[2].content).toBe('As JSON');
  });

  it('refuses the same turn where it would go to the anthropic upstream', async () => {
    const id = await conversationOn('anthropic');
    const before = counts();
    const res = await chat(
      { messages: [{ role: 'user', content: 'As JSON' }], ...JSON_FORMAT },
      id,
    );
    expectRefusal(res);
    expect(counts()).toEqual(before);
  });

  it('refuses it on an anthropic-only alias, forwarding nothing', async () => {
    const before = counts();
    const res = await chat({
      model: 'claude',
      messages: [{ role: 'user', content: 'As JSON' }],
      ...JSON_FORMAT,
    });
    expectRefusal(res);
    expect(counts()).toEqual(before);
  });

  it('still refuses n > 1 on /c1 whatever the upstream (a conversation keeps one answer)', async () => {
    const res = await chat({ model: 'mixed', messages: [{ role: 'user', content: 'Hi' }], n: 2 });
    expectApiError(res, 400, 'invalid_field', { param: 'n' });
  });
});

function expectRefusal(res: GatewayResponse): void {
  expectApiError(res, 400, 'invalid_field', {
    param: 'response_format.type',
    message: /not supported by this model/,
  });
}
