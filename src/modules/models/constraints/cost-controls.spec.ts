import { CatalogModel, ModelConstraints } from 'src/kernel/catalog-model';
import {
  checkAnthropicBetaHeader,
  checkChatCostControls,
  checkMessagesCostControls,
} from 'src/modules/models/constraints/cost-controls';

const model = (
  format: 'openai' | 'anthropic',
  over: Partial<ModelConstraints> = {},
): CatalogModel => ({
  alias: 'm',
  upstreams: [{ id: 'm#0', url: 'http://u/v1', format, model: 'x', apiKeyEnv: null, apiKey: null }],
  constraints: {
    minMaxTokens: 1,
    maxOutputTokens: 100,
    contextWindow: 1000,
    acceptsImageUrl: false,
    acceptsImages: false,
    typicalResponseSeconds: 1,
    ...over,
  },
});

const paramOf = (check: () => void): string | null | undefined => {
  try {
    check();
  } catch (error) {
    return (error as { param?: string | null }).param;
  }
  return undefined;
};

describe('cost controls', () => {
  it.each([
    [{ n: 2 }, 'n'],
    [{ n: 1.5 }, 'n'],
    [{ service_tier: 'priority' }, 'service_tier'],
    [{ store: true }, 'store'],
    [{ tools: [{ type: 'function' }, { type: 'file_search' }] }, 'tools[1].type'],
    [{ web_search_options: {} }, 'web_search_options'],
    [{ n: 1, store: false, service_tier: null, tools: [{ type: 'function' }] }, undefined],
  ])('chat body %j → param %s', (body, param) => {
    expect(paramOf(() => checkChatCostControls(body, model('openai')))).toBe(param);
  });

  it('lets the catalog open what it lists', () => {
    const open = model('openai', {
      maxN: 3,
      allowedServiceTiers: ['flex'],
      allowedServerTools: ['file_search', 'web_search_options'],
    });
    const body = {
      n: 3,
      service_tier: 'flex',
      tools: [{ type: 'file_search' }],
      web_search_options: {},
    };
    expect(paramOf(() => checkChatCostControls(body, open))).toBeUndefined();
  });

  it.each([
    [{ mcp_servers: [{ type: 'url', url: 'http://x' }] }, 'mcp_servers[0].url'],
    [{ container: 'c' }, 'container'],
    [{ tools: [{ name: 'f' }, { type: 'bash_20250124', name: 'bash' }] }, 'tools[1].type'],
    [{ betas: ['x'] }, 'betas[0]'],
    [{ tools: [{ type: 'custom', name: 'f' }] }, undefined],
  ])('messages body %j → param %s', (body, param) => {
    expect(paramOf(() => checkMessagesCostControls(body, model('anthropic')))).toBe(param);
  });

  it('checks anthropic-beta only for models with an anthropic upstream', () => {
    const headers = { 'anthropic-beta': 'a-1, b-2' };
    expect(paramOf(() => checkAnthropicBetaHeader(headers, model('anthropic')))).toBe(
      'anthropic-beta',
    );
    expect(
      paramOf(() =>
        checkAnthropicBetaHeader(headers, model('anthropic', { allowedBetas: ['a-1', 'b-2'] })),
      ),
    ).toBeUndefined();
    expect(paramOf(() => checkAnthropicBetaHeader(headers, model('openai')))).toBeUndefined();
  });
});
