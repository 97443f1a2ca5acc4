import type { IncomingHttpHeaders } from 'node:http';
import { HEADER } from 'src/common/http/headers';

/**
 * The Anthropic headers a client may send that an `anthropic` upstream should see
 * (`anthropic-version`, `anthropic-beta`), for `/v1/messages` and `/c1/messages`.
 */
export function anthropicClientHeaders(headers: IncomingHttpHeaders): Record<string, string> {
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
