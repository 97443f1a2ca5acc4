import type { IncomingHttpHeaders } from 'node:http';
import { HEADER } from 'src/common/http/headers';
import { CatalogModel } from 'src/kernel/catalog-model';
import { checkAnthropicBetaHeader } from 'src/modules/models/constraints/cost-controls';

/**
 * The Anthropic headers a client may send that an `anthropic` upstream should see
 * (`anthropic-version`, `anthropic-beta`), for `/v1/messages` and `/c1/messages`. Betas the
 * model's `allowed_betas` does not list → 400 `invalid_field` (param `anthropic-beta`).
 */
export function anthropicClientHeaders(
  headers: IncomingHttpHeaders,
  model: CatalogModel,
): Record<string, string> {
  checkAnthropicBetaHeader(headers, model);
  const out: Record<string, string> = {};
  for (const name of [HEADER.anthropicVersion, HEADER.anthropicBeta]) {
    const value = headers[name];
    // Only a sane token list: these end up in an upstream request.
    if (typeof value === 'string' && /^[A-Za-z0-9._,:\- ]{1,512}$/.test(value)) {
      out[name] = value;
    }
  }
  return out;
}
