import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CatalogError } from 'src/modules/models/catalog.schema';
import { builtinCatalog, loadCatalog } from 'src/modules/models/catalog.loader';

const dir = mkdtempSync(join(tmpdir(), 'parley-catalog-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const noEnv = () => undefined;

function failure(file: string): string[] {
  try {
    loadCatalog(file, noEnv);
  } catch (error) {
    if (error instanceof CatalogError) {
      return error.problems;
    }
    throw error;
  }
  throw new Error('expected a CatalogError');
}

describe(loadCatalog.name, () => {
  it('serves the built-in echo model without a file', () => {
    const { catalog } = loadCatalog(null, noEnv);
    expect(catalog).toEqual(builtinCatalog());
    expect(catalog.models.map((m) => m.alias)).toEqual(['echo']);
    expect(catalog.models[0].dev?.label).toMatch(/dev model/);
  });

  it('reads YAML and JSON with the same keys', () => {
    const yaml = write(
      'models.yaml',
      [
        'models:',
        '  - alias: llama',
        '    upstreams:',
        '      - url: http://vllm:8000/v1',
        '        format: openai',
        '        model: meta-llama/Llama-3.1-8B-Instruct',
        '    constraints:',
        '      max_output_tokens: 4096',
        '      context_window: 131072',
      ].join('\n'),
    );
    const json = write(
      'models.json',
      JSON.stringify({
        models: [
          {
            alias: 'llama',
            upstreams: [
              {
                url: 'http://vllm:8000/v1',
                format: 'openai',
                model: 'meta-llama/Llama-3.1-8B-Instruct',
              },
            ],
            constraints: { max_output_tokens: 4096, context_window: 131072 },
          },
        ],
      }),
    );
    expect(loadCatalog(yaml, noEnv).catalog.models).toEqual(
      loadCatalog(json, noEnv).catalog.models,
    );
  });

  it('accepts the example catalog shipped for docker compose', () => {
    const file = join(__dirname, '..', '..', '..', 'docker', 'models.example.yaml');
    const { catalog } = loadCatalog(file, () => 'key');
    expect(catalog.models.length).toBeGreaterThan(0);
  });

  it('prefixes every problem with MODELS_FILE and the entry path', () => {
    const file = write(
      'bad.yaml',
      'models:\n  - alias: a\n    upstreams:\n      - {url: "http://x/v1", format: grpc, model: m}\n    constraints: {max_output_tokens: 1, context_window: 2}\n',
    );
    expect(failure(file)).toEqual([
      'MODELS_FILE: models[0].upstreams[0].format: must be "openai" or "anthropic"',
    ]);
  });

  it('names the line of a YAML syntax error and a missing file', () => {
    expect(failure(write('broken.yaml', 'models:\n  - alias: [unclosed\n'))).toEqual([
      expect.stringMatching(/^MODELS_FILE: .*broken\.yaml: not valid YAML \(line \d+: /),
    ]);
    expect(failure(join(dir, 'missing.yaml'))).toEqual([
      expect.stringMatching(/^MODELS_FILE: .*missing\.yaml: cannot be read \(ENOENT\)$/),
    ]);
  });
});
