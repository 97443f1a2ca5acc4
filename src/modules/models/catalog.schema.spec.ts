import { CatalogError, parseCatalog } from 'src/modules/models/catalog.schema';

const env: Record<string, string> = { VLLM_KEY: 'sk-vllm', CLOUD_KEY: 'sk-cloud' };
const readEnv = (name: string) => env[name];

const upstream = (over: Record<string, unknown> = {}) => ({
  url: 'http://vllm:8000/v1',
  format: 'openai',
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  ...over,
});
const model = (over: Record<string, unknown> = {}) => ({
  alias: 'llama',
  upstreams: [upstream()],
  constraints: { max_output_tokens: 4096, context_window: 131072 },
  ...over,
});

function problemsOf(doc: unknown): string[] {
  try {
    parseCatalog(doc, readEnv);
  } catch (error) {
    if (error instanceof CatalogError) {
      return error.problems;
    }
    throw error;
  }
  throw new Error('expected a CatalogError');
}

describe(parseCatalog.name, () => {
  it('reads a full entry with defaults for the optional constraints', () => {
    const { models, warnings } = parseCatalog(
      {
        models: [
          model({
            upstreams: [
              upstream({ api_key_env: 'VLLM_KEY', url: 'http://vllm:8000/v1/' }),
              upstream({
                url: 'https://api.anthropic.com/v1',
                format: 'anthropic',
                model: 'claude',
                api_key_env: 'CLOUD_KEY',
              }),
            ],
          }),
        ],
      },
      readEnv,
    );
    expect(warnings).toEqual([]);
    expect(models).toEqual([
      {
        alias: 'llama',
        upstreams: [
          {
            id: 'llama#0',
            url: 'http://vllm:8000/v1',
            format: 'openai',
            model: 'meta-llama/Llama-3.1-8B-Instruct',
            apiKeyEnv: 'VLLM_KEY',
            apiKey: 'sk-vllm',
          },
          {
            id: 'llama#1',
            url: 'https://api.anthropic.com/v1',
            format: 'anthropic',
            model: 'claude',
            apiKeyEnv: 'CLOUD_KEY',
            apiKey: 'sk-cloud',
          },
        ],
        constraints: {
          minMaxTokens: 1,
          maxOutputTokens: 4096,
          contextWindow: 131072,
          acceptsImageUrl: false,
          acceptsImages: false,
          typicalResponseSeconds: 30,
        },
      },
    ]);
  });

  it.each([
    [
      { models: [model({ upstreams: [upstream(), upstream({ format: 'grpc' })] })] },
      'models[0].upstreams[1].format: must be "openai" or "anthropic"',
    ],
    [
      { models: [model(), model({ alias: 'b', upstreams: [upstream({ format: 'x' })] })] },
      'models[1].upstreams[0].format: must be "openai" or "anthropic"',
    ],
    [{ models: [] }, 'models: must be a non-empty list of models'],
    [{}, 'models: must be a non-empty list of models'],
    [{ models: [model(), model()] }, 'models[1].alias: duplicate alias "llama"'],
    [
      { models: [model({ alias: '' })] },
      expect.stringMatching(/^models\[0\]\.alias: must be 1-128 characters/),
    ],
    [
      { models: [model({ upstreams: [] })] },
      'models[0].upstreams: must be a non-empty list of upstreams',
    ],
    [
      { models: [model({ upstreams: [upstream({ url: 'vllm:8000' })] })] },
      'models[0].upstreams[0].url: must start with http:// or https://',
    ],
    [
      { models: [model({ upstreams: [upstream({ url: 'not a url' })] })] },
      'models[0].upstreams[0].url: is not a valid URL',
    ],
    [
      { models: [model({ upstreams: [upstream({ url: 'http://u:p@vllm/v1' })] })] },
      expect.stringMatching(/^models\[0\]\.upstreams\[0\]\.url: must not contain credentials/),
    ],
    [
      { models: [model({ upstreams: [upstream({ url: 'http://vllm/v1?key=x' })] })] },
      'models[0].upstreams[0].url: must not have a query or fragment',
    ],
    [
      { models: [model({ upstreams: [upstream({ model: '' })] })] },
      expect.stringMatching(/^models\[0\]\.upstreams\[0\]\.model: /),
    ],
    [
      { models: [model({ upstreams: [upstream({ api_key_env: 'not-a-name' })] })] },
      'models[0].upstreams[0].api_key_env: must be the name of an environment variable',
    ],
    [
      { models: [model({ upstreams: [upstream({ key: 'sk' })] })] },
      expect.stringMatching(/^models\[0\]\.upstreams\[0\]\.key: unknown field/),
    ],
    [
      { models: [model({ constraints: { context_window: 10 } })] },
      'models[0].constraints.max_output_tokens: is required',
    ],
    [
      { models: [model({ constraints: { max_output_tokens: 1.5, context_window: 10 } })] },
      'models[0].constraints.max_output_tokens: must be an integer >= 1',
    ],
    [
      { models: [model({ constraints: { max_output_tokens: 100, context_window: 10 } })] },
      'models[0].constraints.max_output_tokens: must not exceed context_window',
    ],
    [
      {
        models: [
          model({
            constraints: { max_output_tokens: 1, context_window: 10, accepts_images: 'yes' },
          }),
        ],
      },
      'models[0].constraints.accepts_images: must be true or false',
    ],
    [
      {
        models: [
          model({ constraints: { max_ouput_tokens: 1, max_output_tokens: 1, context_window: 10 } }),
        ],
      },
      expect.stringMatching(/^models\[0\]\.constraints\.max_ouput_tokens: unknown field/),
    ],
    [
      {
        models: [
          model({
            constraints: { max_output_tokens: 1, context_window: 10, typical_response_seconds: -1 },
          }),
        ],
      },
      'models[0].constraints.typical_response_seconds: must be a number >= 0',
    ],
    [
      { models: [model({ constraints: null })] },
      expect.stringMatching(/^models\[0\]\.constraints: must be an object/),
    ],
    [{ models: ['llama'] }, expect.stringMatching(/^models\[0\]: must be an object/)],
    [{ models: [model()], extra: 1 }, expect.stringMatching(/^extra: unknown field/)],
  ])('refuses %j with the path of the entry', (doc, expected) => {
    expect(problemsOf(doc)).toContainEqual(expected);
  });

  it('reads metrics_url: a URL, false for none, absent for the default', () => {
    const { models } = parseCatalog(
      {
        models: [
          model({
            upstreams: [
              upstream({ metrics_url: 'http://vllm:9100/metrics/' }),
              upstream({ metrics_url: false }),
              upstream(),
            ],
          }),
        ],
      },
      readEnv,
    );
    expect(models[0].upstreams.map((u) => u.metricsUrl)).toEqual([
      'http://vllm:9100/metrics',
      false,
      undefined,
    ]);
    expect(
      problemsOf({ models: [model({ upstreams: [upstream({ metrics_url: true })] })] }),
    ).toEqual([
      'models[0].upstreams[0].metrics_url: must be the URL of the metrics (http://host:port/metrics) or false',
    ]);
    expect(
      problemsOf({
        models: [model({ upstreams: [upstream({ metrics_url: 'http://u:p@vllm/metrics' })] })],
      }),
    ).toEqual([
      'models[0].upstreams[0].metrics_url: must not contain credentials; put the key in the variable named by api_key_env',
    ]);
  });

  it('reads the cost controls (issue #22 item 6) and reports each bad one on its own line', () => {
    const cost = {
      max_output_tokens: 4096,
      context_window: 131072,
      max_n: 4,
      allowed_service_tiers: ['flex'],
      allowed_server_tools: ['web_search_preview', 'mcp_servers'],
      allowed_betas: ['interleaved-thinking-2025-05-14'],
    };
    const [parsed] = parseCatalog({ models: [model({ constraints: cost })] }, readEnv).models;
    expect(parsed.constraints).toMatchObject({
      maxN: 4,
      allowedServiceTiers: ['flex'],
      allowedServerTools: ['web_search_preview', 'mcp_servers'],
      allowedBetas: ['interleaved-thinking-2025-05-14'],
    });
    const [plain] = parseCatalog({ models: [model()] }, readEnv).models;
    expect(plain.constraints.maxN).toBeUndefined();
    expect(plain.constraints.allowedBetas).toBeUndefined();

    const bad = {
      max_output_tokens: 4096,
      context_window: 131072,
      max_n: 0,
      allowed_service_tiers: 'flex',
      allowed_server_tools: ['ok', ''],
      allowed_betas: ['has space'],
    };
    expect(problemsOf({ models: [model({ constraints: bad })] })).toEqual([
      'models[0].constraints.max_n: must be an integer >= 1',
      'models[0].constraints.allowed_service_tiers: must be a list of at most 100 names',
      'models[0].constraints.allowed_server_tools[1]: must be a name of 1-100 letters, digits and . _ : -',
      'models[0].constraints.allowed_betas[0]: must be a name of 1-100 letters, digits and . _ : -',
    ]);
  });

  it('refuses a document that is not an object', () => {
    expect(problemsOf(['x'])).toEqual(['(root): must be an object with a "models" list']);
  });

  it('reports every problem in one pass', () => {
    const problems = problemsOf({
      models: [model({ upstreams: [upstream({ format: 'x', model: '' })] }), model({ alias: 7 })],
    });
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it('warns about an unset key variable and an impossible floor, and still serves', () => {
    const { models, warnings } = parseCatalog(
      {
        models: [
          model({
            upstreams: [upstream({ api_key_env: 'UNSET_KEY' })],
            constraints: { min_max_tokens: 512, max_output_tokens: 256, context_window: 1024 },
          }),
        ],
      },
      readEnv,
    );
    expect(models[0].upstreams[0].apiKey).toBeNull();
    expect(warnings).toEqual([
      'models[0].upstreams[0].api_key_env: UNSET_KEY is not set; requests go to this upstream without a key',
      expect.stringMatching(
        /^models\[0\]\.constraints: min_max_tokens \(512\) is above max_output_tokens/,
      ),
    ]);
  });
});
