import type { WireFormatName } from 'src/kernel/wire-format-names';

/** The wire format an upstream speaks (`wire/<format>/`): paths, auth headers, body shapes. */
export type WireFormat = WireFormatName;

export interface ModelConstraints {
  /** `max_tokens` below this is raised to it (reported in `x-parley-applied`). */
  minMaxTokens: number;
  /** `max_tokens` above this is lowered to it (reported in `x-parley-applied`). */
  maxOutputTokens: number;
  contextWindow: number;
  /** Whether `image_url.url` may be an http(s) URL (the model server then fetches it). */
  acceptsImageUrl: boolean;
  /** Whether the model takes images at all (inline `data:` URIs). */
  acceptsImages: boolean;
  typicalResponseSeconds: number;
  /** Most choices (`n`) one chat request may ask for; absent: 1. */
  maxN?: number;
  /** `service_tier` values a request may name; absent: none. */
  allowedServiceTiers?: readonly string[];
  /**
   * Tools the provider runs that a request may use: `tools[].type` values other than client
   * tools (`web_search_preview`, `web_search_20250305`…) and the fields `mcp_servers`,
   * `container`, `web_search_options`; absent: none.
   */
  allowedServerTools?: readonly string[];
  /** Anthropic betas (`anthropic-beta` header, `betas` field) a request may name; absent: none. */
  allowedBetas?: readonly string[];
}

export interface CatalogUpstream {
  /** `<alias>#<index>`: stable within one process, used for health and balancing. */
  id: string;
  /** Base URL, version included (`http://vllm:8000/v1`), without trailing slash. */
  url: string;
  format: WireFormat;
  /** The upstream's own model name, which replaces the alias in forwarded bodies. */
  model: string;
  /** Name of the environment variable holding the key (shown in /v1/info, never the value). */
  apiKeyEnv: string | null;
  /** The key itself, read once at boot. Never logged, never returned. */
  apiKey: string | null;
  /**
   * Where its load is read (SPEC "Fleet"): a URL, `false` for nowhere; absent = the default for
   * the server (vLLM `/metrics` at the URL's origin, see fleet/load/metrics-target.ts).
   */
  metricsUrl?: string | false;
  /** Set for the in-process dev model: no network, served by the echo transport. */
  builtin?: 'echo';
}

export interface CatalogModel {
  alias: string;
  upstreams: CatalogUpstream[];
  constraints: ModelConstraints;
  /** The built-in dev model (no MODELS_FILE): labelled as such in /v1/info. */
  dev?: { label: string };
}

export interface Catalog {
  models: CatalogModel[];
  /** Where it came from: the file path, or `builtin` for the echo dev catalog. */
  source: string;
}
