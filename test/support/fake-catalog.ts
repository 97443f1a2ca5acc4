import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeModelOptions {
  /** Default `fake`. */
  alias?: string;
  /** Default 1000. */
  maxOutputTokens?: number;
  /** Default 100 000. */
  contextWindow?: number;
}

/**
 * A model catalog of one alias (`fake` by default) served by one `openai` upstream, the fake
 * at `upstreamUrl`, under the name `fake-model`: what most /c1 and reliability tests need.
 */
export function fakeModelCatalog(upstreamUrl: string, options: FakeModelOptions = {}) {
  return {
    models: [
      {
        alias: options.alias ?? 'fake',
        upstreams: [{ url: upstreamUrl, format: 'openai', model: 'fake-model' }],
        constraints: {
          max_output_tokens: options.maxOutputTokens ?? 1000,
          context_window: options.contextWindow ?? 100_000,
        },
      },
    ],
  };
}

/**
 * Writes `catalog` to `<dir>/models.json`, the MODELS_FILE of a spawned gateway (see
 * `sqliteGatewayEnv`); returns the path.
 */
export function writeModelsFile(dir: string, catalog: unknown): string {
  const file = join(dir, 'models.json');
  writeFileSync(file, JSON.stringify(catalog));
  return file;
}

/**
 * Constraints that let every chat request through (max_tokens from 1, images accepted as
 * data, a window of 100 000 tokens), in the catalog's own spelling; `over` changes some.
 */
export function openConstraints(over: Record<string, unknown> = {}) {
  return {
    min_max_tokens: 1,
    max_output_tokens: 1000,
    context_window: 100_000,
    accepts_image_url: false,
    accepts_images: true,
    typical_response_seconds: 1,
    ...over,
  };
}

/** A catalog entry: `alias` served as `model` by the `openai` fake at `upstreamUrl`, open. */
export function openModel(alias: string, upstreamUrl: string, model = 'fake-model') {
  return {
    alias,
    upstreams: [{ url: upstreamUrl, format: 'openai', model }],
    constraints: openConstraints(),
  };
}

/** A catalog entry for one fake `anthropic` upstream, its key read from `keyEnv`. */
export function openAnthropicModel(
  alias: string,
  upstreamUrl: string,
  model = 'claude-upstream',
  keyEnv = 'FAKE_ANTHROPIC_KEY',
) {
  return {
    alias,
    upstreams: [{ url: upstreamUrl, format: 'anthropic', model, api_key_env: keyEnv }],
    constraints: openConstraints(),
  };
}
