import { CatalogModel, CatalogUpstream, ModelConstraints } from 'src/kernel/catalog-model';
import { isWireFormatName, WIRE_FORMAT_NAMES } from 'src/kernel/wire-format-names';

/** A catalog that cannot be served; one line per problem, each naming the entry's path. */
export class CatalogError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface ParsedCatalog {
  models: CatalogModel[];
  /** Things that are served but probably not what the operator meant. */
  warnings: string[];
}

const ALIAS = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_PROBLEMS = 20;

const MODEL_KEYS = ['alias', 'upstreams', 'constraints'];
const UPSTREAM_KEYS = ['url', 'format', 'model', 'api_key_env', 'metrics_url'];
const CONSTRAINT_KEYS = [
  'min_max_tokens',
  'max_output_tokens',
  'context_window',
  'accepts_image_url',
  'accepts_images',
  'typical_response_seconds',
  'max_n',
  'allowed_service_tiers',
  'allowed_server_tools',
  'allowed_betas',
];

/** The cost-control lists (issue #22 item 6): names of tiers, tools and betas. */
const ALLOW_LISTS = {
  allowed_service_tiers: 'allowedServiceTiers',
  allowed_server_tools: 'allowedServerTools',
  allowed_betas: 'allowedBetas',
} as const;
const ALLOW_LIST_MAX_ITEMS = 100;
const ALLOW_LIST_ITEM = /^[A-Za-z0-9._:-]{1,100}$/;

/** Defaults for the optional constraints; the two sizes have none (a wrong guess would cut answers). */
const CONSTRAINT_DEFAULTS = {
  min_max_tokens: 1,
  accepts_image_url: false,
  accepts_images: false,
  typical_response_seconds: 30,
};

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates a parsed catalog document (YAML or JSON, same keys: SPEC "Models") and turns it
 * into `CatalogModel`s. Collects every problem (up to 20) before throwing, so an operator fixes
 * a file in one pass. `readEnv` resolves `api_key_env` names to keys.
 */
export function parseCatalog(
  doc: unknown,
  readEnv: (name: string) => string | undefined,
): ParsedCatalog {
  const problems: string[] = [];
  const warnings: string[] = [];
  const problem = (path: string, text: string) => {
    if (problems.length < MAX_PROBLEMS) {
      problems.push(`${path}: ${text}`);
    }
  };
  if (!isObject(doc)) {
    throw new CatalogError(['(root): must be an object with a "models" list']);
  }
  for (const key of Object.keys(doc)) {
    if (key !== 'models') {
      problem(key, 'unknown field (the file holds one field, "models")');
    }
  }
  if (!Array.isArray(doc.models) || doc.models.length === 0) {
    problem('models', 'must be a non-empty list of models');
    throw new CatalogError(problems);
  }
  const models: CatalogModel[] = [];
  const seen = new Set<string>();
  doc.models.forEach((entry: unknown, i) => {
    const path = `models[${i}]`;
    if (!isObject(entry)) {
      problem(path, 'must be an object with alias, upstreams and constraints');
      return;
    }
    unknownKeys(entry, MODEL_KEYS, path, problem);
    const alias = entry.alias;
    if (typeof alias !== 'string' || !ALIAS.test(alias)) {
      problem(
        `${path}.alias`,
        'must be 1-128 characters: letters, digits and . _ : / @ + - (not first)',
      );
    } else if (seen.has(alias)) {
      problem(`${path}.alias`, `duplicate alias "${alias}"`);
    } else {
      seen.add(alias);
    }
    const upstreams = parseUpstreams(entry.upstreams, `${path}.upstreams`, String(alias), {
      problem,
      warnings,
      readEnv,
    });
    const constraints = parseConstraints(entry.constraints, `${path}.constraints`, problem);
    if (constraints && constraints.minMaxTokens > constraints.maxOutputTokens) {
      warnings.push(
        `${path}.constraints: min_max_tokens (${constraints.minMaxTokens}) is above max_output_tokens (${constraints.maxOutputTokens}); requests with a smaller max_tokens will be refused with max_tokens_below_minimum`,
      );
    }
    if (typeof alias === 'string' && upstreams && constraints) {
      models.push({ alias, upstreams, constraints });
    }
  });
  if (problems.length > 0) {
    throw new CatalogError(problems);
  }
  return { models, warnings };
}

type Problem = (path: string, text: string) => void;

function unknownKeys(obj: Obj, allowed: string[], path: string, problem: Problem): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      problem(`${path}.${key}`, `unknown field (expected one of ${allowed.join(', ')})`);
    }
  }
}

function parseUpstreams(
  value: unknown,
  path: string,
  alias: string,
  ctx: { problem: Problem; warnings: string[]; readEnv: (name: string) => string | undefined },
): CatalogUpstream[] | null {
  const { problem } = ctx;
  if (!Array.isArray(value) || value.length === 0) {
    problem(path, 'must be a non-empty list of upstreams');
    return null;
  }
  const result: CatalogUpstream[] = [];
  value.forEach((entry: unknown, j) => {
    const at = `${path}[${j}]`;
    if (!isObject(entry)) {
      problem(at, 'must be an object with url, format, model and optionally api_key_env');
      return;
    }
    unknownKeys(entry, UPSTREAM_KEYS, at, problem);
    const url = parseBaseUrl(entry.url, `${at}.url`, problem);
    const format = entry.format;
    if (!isWireFormatName(format)) {
      problem(`${at}.format`, `must be ${WIRE_FORMAT_NAMES.map((n) => `"${n}"`).join(' or ')}`);
    }
    const model = entry.model;
    if (typeof model !== 'string' || model.trim() === '' || model.length > 256) {
      problem(`${at}.model`, "must be the upstream's model name (1-256 characters)");
    }
    let apiKeyEnv: string | null = null;
    let apiKey: string | null = null;
    if (entry.api_key_env !== undefined && entry.api_key_env !== null) {
      if (typeof entry.api_key_env !== 'string' || !ENV_NAME.test(entry.api_key_env)) {
        problem(`${at}.api_key_env`, 'must be the name of an environment variable');
      } else {
        apiKeyEnv = entry.api_key_env;
        apiKey = ctx.readEnv(apiKeyEnv) || null;
        if (!apiKey) {
          ctx.warnings.push(
            `${at}.api_key_env: ${apiKeyEnv} is not set; requests go to this upstream without a key`,
          );
        }
      }
    }
    const metricsUrl = parseMetricsUrl(entry.metrics_url, `${at}.metrics_url`, problem);
    if (url && isWireFormatName(format) && typeof model === 'string') {
      result.push({
        id: `${alias}#${j}`,
        url,
        format,
        model,
        apiKeyEnv,
        apiKey,
        ...(metricsUrl === undefined || metricsUrl === null ? {} : { metricsUrl }),
      });
    }
  });
  return result.length === value.length ? result : null;
}

/** `metrics_url` (SPEC "Fleet"): a URL to read the upstream's load from, or false for none. */
function parseMetricsUrl(
  value: unknown,
  path: string,
  problem: Problem,
): string | false | undefined | null {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (value === false) {
    return false;
  }
  if (typeof value !== 'string' || value.trim() === '') {
    problem(path, 'must be the URL of the metrics (http://host:port/metrics) or false');
    return null;
  }
  return parseBaseUrl(value, path, problem);
}

function parseBaseUrl(value: unknown, path: string, problem: Problem): string | null {
  if (typeof value !== 'string' || value.trim() === '') {
    problem(path, 'must be the base URL of the upstream (http://host:port/v1)');
    return null;
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problem(path, 'is not a valid URL');
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problem(path, 'must start with http:// or https://');
    return null;
  }
  if (url.username || url.password) {
    problem(path, 'must not contain credentials; put the key in the variable named by api_key_env');
    return null;
  }
  if (url.search || url.hash) {
    problem(path, 'must not have a query or fragment');
    return null;
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function parseConstraints(value: unknown, path: string, problem: Problem): ModelConstraints | null {
  if (!isObject(value)) {
    problem(path, 'must be an object with at least max_output_tokens and context_window');
    return null;
  }
  unknownKeys(value, CONSTRAINT_KEYS, path, problem);
  const v = { ...CONSTRAINT_DEFAULTS, ...value };
  let ok = true;
  const integer = (key: string, min: number): number => {
    const n = v[key as keyof typeof v];
    if (n === undefined) {
      problem(`${path}.${key}`, 'is required');
      ok = false;
      return 0;
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) {
      problem(`${path}.${key}`, `must be an integer >= ${min}`);
      ok = false;
      return 0;
    }
    return n;
  };
  const flag = (key: string): boolean => {
    const b = v[key as keyof typeof v];
    if (typeof b !== 'boolean') {
      problem(`${path}.${key}`, 'must be true or false');
      ok = false;
      return false;
    }
    return b;
  };
  const constraints: ModelConstraints = {
    minMaxTokens: integer('min_max_tokens', 1),
    maxOutputTokens: integer('max_output_tokens', 1),
    contextWindow: integer('context_window', 1),
    acceptsImageUrl: flag('accepts_image_url'),
    acceptsImages: flag('accepts_images'),
    typicalResponseSeconds: 0,
  };
  if (value.max_n !== undefined) {
    constraints.maxN = integer('max_n', 1);
  }
  for (const [key, property] of Object.entries(ALLOW_LISTS)) {
    const list = parseAllowList(value[key], `${path}.${key}`, problem);
    if (list === false) {
      ok = false;
    } else if (list) {
      constraints[property] = list;
    }
  }
  const seconds = v.typical_response_seconds;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
    problem(`${path}.typical_response_seconds`, 'must be a number >= 0');
    ok = false;
  } else {
    constraints.typicalResponseSeconds = seconds;
  }
  if (ok && constraints.maxOutputTokens > constraints.contextWindow) {
    problem(`${path}.max_output_tokens`, 'must not exceed context_window');
    ok = false;
  }
  return ok ? constraints : null;
}

/** A list of names (`["web_search_preview"]`); undefined when absent, false when invalid. */
function parseAllowList(
  value: unknown,
  path: string,
  problem: Problem,
): string[] | undefined | false {
  if (value === undefined || value === null) {
    return undefined;
  }
  if (!Array.isArray(value) || value.length > ALLOW_LIST_MAX_ITEMS) {
    problem(path, `must be a list of at most ${ALLOW_LIST_MAX_ITEMS} names`);
    return false;
  }
  const bad = value.findIndex((item) => typeof item !== 'string' || !ALLOW_LIST_ITEM.test(item));
  if (bad >= 0) {
    problem(`${path}[${bad}]`, 'must be a name of 1-100 letters, digits and . _ : -');
    return false;
  }
  return value as string[];
}
