import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { load as loadYaml, YAMLException } from 'js-yaml';
import { CatalogError, parseCatalog } from 'src/modules/models/catalog.schema';
import { Catalog, CatalogModel } from 'src/kernel/catalog-model';

export const ECHO_ALIAS = 'echo';

/**
 * The catalog served when no MODELS_FILE is set: one in-process model that answers with the
 * last user message (JSON and SSE, tokens counted with a real tokenizer), so a fresh clone
 * works end to end without a GPU. It goes through the same upstream client as a real model.
 */
export function builtinCatalog(): Catalog {
  const echo: CatalogModel = {
    alias: ECHO_ALIAS,
    upstreams: [
      {
        id: `${ECHO_ALIAS}#0`,
        url: 'builtin:echo',
        format: 'openai',
        model: ECHO_ALIAS,
        apiKeyEnv: null,
        apiKey: null,
        builtin: 'echo',
      },
    ],
    constraints: {
      minMaxTokens: 1,
      maxOutputTokens: 4096,
      contextWindow: 32768,
      acceptsImageUrl: false,
      acceptsImages: true,
      typicalResponseSeconds: 0,
    },
    dev: {
      label:
        'Built-in deterministic dev model (no GPU): answers with the last user message. Set MODELS_FILE to serve real models.',
    },
  };
  return { models: [echo], source: 'builtin' };
}

export interface LoadedCatalog {
  catalog: Catalog;
  warnings: string[];
}

/**
 * Reads and validates the catalog at boot. Throws a `CatalogError` whose lines all start with
 * `MODELS_FILE:` and name the offending entry (`models[1].upstreams[0].format: must be …`);
 * the process stops with them.
 */
export function loadCatalog(
  file: string | null,
  readEnv: (name: string) => string | undefined,
): LoadedCatalog {
  if (!file) {
    return { catalog: builtinCatalog(), warnings: [] };
  }
  const fail = (problems: string[]) => new CatalogError(problems.map((p) => `MODELS_FILE: ${p}`));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw fail([`${file}: cannot be read (${code})`]);
  }
  let doc: unknown;
  try {
    doc = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : loadYaml(text);
  } catch (error) {
    const detail =
      error instanceof YAMLException
        ? `line ${error.mark.line + 1}: ${error.reason}`
        : (error as Error).message;
    throw fail([`${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'} (${detail})`]);
  }
  try {
    const { models, warnings } = parseCatalog(doc, readEnv);
    return {
      catalog: { models, source: file },
      warnings: warnings.map((w) => `MODELS_FILE: ${w}`),
    };
  } catch (error) {
    if (error instanceof CatalogError) {
      throw fail(error.problems);
    }
    throw error;
  }
}
