import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('MODELS_FILE at boot', () => {
  it('stops the process with the path of the offending entry and exit code 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-models-'));
    const file = join(dir, 'models.yaml');
    writeFileSync(
      file,
      [
        'models:',
        '  - alias: ok',
        '    upstreams: [{url: "http://127.0.0.1:1/v1", format: openai, model: m}]',
        '    constraints: {max_output_tokens: 10, context_window: 100}',
        '  - alias: bad',
        '    upstreams:',
        '      - {url: "http://127.0.0.1:1/v1", format: grpc, model: m}',
        '    constraints: {max_output_tokens: 10, context_window: 100}',
      ].join('\n'),
    );
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        MODELS_FILE: file,
        DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
        LOG_LEVEL: 'silent',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'MODELS_FILE: models[1].upstreams[0].format: must be "openai" or "anthropic"',
    );
  });
});
