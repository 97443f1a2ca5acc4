import Anthropic from '@anthropic-ai/sdk';
import { anthropicSdkError } from 'test/support/anthropic-sdk-error';
import { expectApiError } from 'test/support/expect-api-error';
import { openConstraints } from 'test/support/fake-catalog';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * Issue #22 item 6: fields that make the provider spend more than the operator allowed (many
 * choices, paid tiers, stored completions, tools the provider runs, beta features, MCP servers
 * it connects to) are refused with 400 `invalid_field` at their exact param, on /v1 and /c1,
 * unless the model's catalog constraints allow them. Nothing refused reaches an upstream.
 */
describe('cost controls from the model catalog', () => {
  let openai: FakeUpstream;
  let anthropic: FakeAnthropicUpstream;
  let gw: TestGateway;

  const user = [{ role: 'user', content: 'hello' }];
  const fn = (name: string) => ({
    type: 'function',
    function: { name, parameters: { type: 'object' } },
  });

  beforeAll(async () => {
    openai = await startFakeUpstream();
    anthropic = await startFakeAnthropicUpstream();
    const gpt = (alias: string, over: Record<string, unknown> = {}) => ({
      alias,
      upstreams: [{ url: openai.url, format: 'openai', model: 'gpt-x' }],
      constraints: openConstraints(over),
    });
    const claude = (alias: string, over: Record<string, unknown> = {}) => ({
      alias,
      upstreams: [{ url: anthropic.url, format: 'anthropic', model: 'claude-x' }],
      constraints: openConstraints(over),
    });
    gw = await startGateway({
      models: {
        models: [
          gpt('strict'),
          gpt('generous', {
            max_n: 4,
            allowed_service_tiers: ['flex'],
            allowed_server_tools: ['web_search_preview'],
          }),
          claude('claude'),
          claude('claude-betas', {
            allowed_betas: ['interleaved-thinking-2025-05-14'],
            allowed_server_tools: ['web_search_20250305'],
          }),
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await openai?.close();
    await anthropic?.close();
  });

  function forwardedCount() {
    return openai.received.length + anthropic.received.length;
  }

  describe.each(['/v1/chat/completions', '/c1/chat/completions'])('%s', (route) => {
    it.each([
      ['n: 128', { n: 128 }, 'n'],
      ['n: 2 on a model of max_n 1', { n: 2 }, 'n'],
      ['n: 0', { n: 0 }, 'n'],
      ['service_tier', { service_tier: 'priority' }, 'service_tier'],
      ['store: true', { store: true }, 'store'],
      [
        'a provider-side tool',
        { tools: [fn('a'), fn('b'), { type: 'web_search_preview' }] },
        'tools[2].type',
      ],
      [
        'an MCP tool',
        { tools: [{ type: 'mcp', server_url: 'http://10.0.0.1/' }] },
        'tools[0].type',
      ],
      ['web_search_options', { web_search_options: {} }, 'web_search_options'],
    ])(
      'refuses %s with invalid_field at its param, forwarding nothing',
      async (_, extra, param) => {
        const before = forwardedCount();
        const res = await gw.post(route, { model: 'strict', messages: user, ...extra });
        expectApiError(res, 400, 'invalid_field', { param });
        expect(forwardedCount()).toBe(before);
      },
    );

    it('forwards what the model allows: n up to max_n (/v1), listed tiers and tools', async () => {
      // /c1 keeps one answer per turn, so n stays 1 there whatever the catalog says.
      const n = route.startsWith('/v1') ? 4 : 1;
      const res = await gw.post(route, {
        model: 'generous',
        messages: user,
        n,
        service_tier: 'flex',
        store: false,
        tools: [fn('a'), { type: 'web_search_preview' }],
      });
      expect(res.status).toBe(200);
      expect(openai.received.at(-1)!.body).toMatchObject({
        n,
        service_tier: 'flex',
        tools: [fn('a'), { type: 'web_search_preview' }],
      });
      const tooMany = await gw.post(route, { model: 'generous', messages: user, n: 5 });
      expectApiError(tooMany, 400, 'invalid_field', {
        param: 'n',
        message: 'n must be an integer from 1 to 4 for model "generous"',
      });
      const otherTier = await gw.post(route, {
        model: 'generous',
        messages: user,
        service_tier: 'priority',
      });
      expectApiError(otherTier, 400, 'invalid_field', { param: 'service_tier' });
    });
  });

  describe.each(['/v1/messages', '/c1/messages'])('%s to an anthropic upstream', (route) => {
    const body = (extra: Record<string, unknown> = {}) => ({
      model: 'claude',
      max_tokens: 50,
      messages: [{ role: 'user', content: 'hello' }],
      ...extra,
    });

    it.each([
      [
        'an MCP server the provider would connect to',
        {
          mcp_servers: [{ type: 'url', url: 'http://169.254.169.254/latest', name: 'meta' }],
        },
        'mcp_servers[0].url',
      ],
      [
        'a server tool',
        {
          tools: [
            { name: 'f', input_schema: { type: 'object' } },
            { type: 'web_search_20250305', name: 'web_search' },
          ],
        },
        'tools[1].type',
      ],
      ['a code execution container', { container: 'container_123' }, 'container'],
      ['service_tier', { service_tier: 'auto' }, 'service_tier'],
      ['betas in the body', { betas: ['code-execution-2025-05-22'] }, 'betas[0]'],
    ])('refuses %s with invalid_field at its param', async (_, extra, param) => {
      const before = forwardedCount();
      const res = await gw.post(route, body(extra));
      expectApiError(res, 400, 'invalid_field', { param });
      expect(forwardedCount()).toBe(before);
    });

    it('refuses an anthropic-beta header naming betas the model does not allow', async () => {
      const before = forwardedCount();
      for (const beta of ['mcp-client-2025-04-04', 'context-1m-2025-08-07']) {
        const res = await gw.post(route, body(), { headers: { 'anthropic-beta': beta } });
        expectApiError(res, 400, 'invalid_field', { param: 'anthropic-beta' });
      }
      const mixed = await gw.post(route, body({ model: 'claude-betas' }), {
        headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14, code-execution-2025-05-22' },
      });
      expectApiError(mixed, 400, 'invalid_field', {
        param: 'anthropic-beta',
        message: 'The beta "code-execution-2025-05-22" is not allowed for model "claude-betas"',
      });
      expect(forwardedCount()).toBe(before);
    });

    it('forwards the betas and server tools the model allows', async () => {
      const res = await gw.post(
        route,
        body({
          model: 'claude-betas',
          tools: [{ type: 'web_search_20250305', name: 'web_search' }],
        }),
        { headers: { 'anthropic-beta': 'interleaved-thinking-2025-05-14' } },
      );
      expect(res.status).toBe(200);
      const forwarded = anthropic.received.at(-1)!;
      expect(forwarded.headers['anthropic-beta']).toBe('interleaved-thinking-2025-05-14');
      expect(forwarded.body.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search' }]);
    });
  });

  it('answers the official Anthropic SDK’s MCP call with the 400 envelope', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: TEST_API_KEY, maxRetries: 0 });
    const error = await anthropicSdkError(
      client.beta.messages.create({
        model: 'claude',
        max_tokens: 50,
        betas: ['mcp-client-2025-04-04'],
        mcp_servers: [{ type: 'url', url: 'https://attacker.example/mcp', name: 'x' }],
        messages: [{ role: 'user', content: 'hi' }],
      }),
    );
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect(error.error).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'invalid_field',
        message:
          'mcp_servers makes the provider run tools for model "claude", which the gateway does not allow',
        param: 'mcp_servers[0].url',
      },
    });
  });
});
