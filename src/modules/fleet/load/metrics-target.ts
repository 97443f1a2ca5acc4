import { HEADER } from 'src/common/http/headers';
import { CatalogUpstream } from 'src/kernel/catalog-model';
import { WIRE_FORMATS } from 'src/modules/proxy/wire/wire-formats';

/** Ollama's default port: its load (models in memory) is at `/api/ps`, not `/metrics`. */
const OLLAMA_PORT = '11434';

export interface MetricsTarget {
  url: string;
  kind: 'prometheus' | 'ollama';
  /** Sent only when the metrics URL is on the upstream's own origin (never to another host). */
  authorization: string | null;
}

/**
 * Where an upstream's load is read: its `metrics_url`, else vLLM's `/metrics` at the origin of
 * an upstream whose wire format reports load (`openai`: vLLM, Ollama; `/api/ps` on Ollama's
 * port 11434). Other formats (hosted APIs) and the built-in echo model are not read unless
 * `metrics_url` names a URL; `false` turns reading off. A URL whose path ends in `/api/ps` is
 * read as Ollama's. The upstream's own credentials go along only to its own origin.
 */
export function metricsTargetOf(upstream: CatalogUpstream): MetricsTarget | null {
  if (upstream.builtin || upstream.metricsUrl === false) {
    return null;
  }
  const wire = WIRE_FORMATS[upstream.format];
  let url: string;
  if (typeof upstream.metricsUrl === 'string') {
    url = upstream.metricsUrl;
  } else if (wire.reportsLoad) {
    const base = new URL(upstream.url);
    url = `${base.origin}${base.port === OLLAMA_PORT ? '/api/ps' : '/metrics'}`;
  } else {
    return null;
  }
  const isSameOrigin = new URL(url).origin === new URL(upstream.url).origin;
  return {
    url,
    kind: new URL(url).pathname.endsWith('/api/ps') ? 'ollama' : 'prometheus',
    authorization: isSameOrigin
      ? (wire.baseHeaders(upstream.apiKey)[HEADER.authorization] ?? null)
      : null,
  };
}
