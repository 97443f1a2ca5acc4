import { CatalogModel } from 'src/kernel/catalog-model';

/** What the size of a reservation is read from: the raw request, before any other check. */
export interface MeteredRequest {
  /** The route template (`/v1/chat/completions`). */
  route: string;
  body: unknown;
  /** The body's size in bytes. */
  bodyBytes: number;
}

/** What the sizing needs from the catalog; `ModelCatalog` satisfies it. */
export interface SizingCatalog {
  get(alias: string): CatalogModel | undefined;
  list(): readonly CatalogModel[];
}

/**
 * A deliberately generous token estimate of a request's input from its size in bytes (one token
 * per 4 bytes of JSON is above what tokenizers give for text, and JSON adds punctuation): a
 * reservation must not be smaller than the request's real usage. Linear, never tokenizes.
 */
const BYTES_PER_INPUT_TOKEN = 4;

/** Most `n` a reservation multiplies by, whatever the body says (the catalog check refuses more). */
const MAX_CHOICES = 128;

/**
 * The most tokens a request can use, reserved against its key's quota before it is forwarded
 * (issue #22 item 5):
 * - output: `max_tokens` (or `max_completion_tokens`) capped by the model's
 *   `max_output_tokens`, the cap itself when absent, times `n` (at most the model's `max_n`);
 *   embeddings have none;
 * - input: the body's bytes / 4, at most the model's context window;
 * - `/c1` turns also send stored history the body does not show, trimmed to the context
 *   window: they reserve the whole window.
 * A body without a known `model` (refused later, or a `/c1` turn that uses the conversation's)
 * is sized for the largest model of the catalog.
 */
export function reservationTokens(request: MeteredRequest, catalog: SizingCatalog): number {
  const body = isObject(request.body) ? request.body : {};
  const model = typeof body.model === 'string' ? catalog.get(body.model) : undefined;
  const largest = (pick: (m: CatalogModel) => number) =>
    model ? pick(model) : Math.max(1, ...catalog.list().map(pick));
  const contextWindow = largest((m) => m.constraints.contextWindow);
  if (request.route.startsWith('/c1/')) {
    return contextWindow;
  }
  const input = Math.min(Math.ceil(request.bodyBytes / BYTES_PER_INPUT_TOKEN), contextWindow);
  if (request.route === '/v1/embeddings') {
    return Math.max(1, input);
  }
  const maxOutput = largest((m) => m.constraints.maxOutputTokens);
  const asked = body.max_tokens ?? body.max_completion_tokens;
  const output =
    typeof asked === 'number' && Number.isFinite(asked) && asked > 0
      ? Math.min(Math.ceil(asked), maxOutput)
      : maxOutput;
  const maxN = Math.min(model?.constraints.maxN ?? MAX_CHOICES, MAX_CHOICES);
  const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 1 ? body.n : 1;
  return input + output * Math.min(n, maxN);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
