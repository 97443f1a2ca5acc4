import type { WireFormatName } from 'src/modules/proxy/wire/format-names';

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
