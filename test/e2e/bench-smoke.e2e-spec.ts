import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Keeps `npm run bench` from rotting as routes change: a very short run of one mode must
 * start its processes, get only 2xx answers from every target and write its results. It
 * asserts nothing about speed.
 */
describe('npm run bench (smoke)', () => {
  let out: string;

  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'parley-bench-smoke-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs one short /v1 JSON mode against all three targets without a failed request', async () => {
    const root = join(__dirname, '..', '..');
    const child = spawn(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        'bench/run.ts',
        '--modes',
        'json-16',
        '--duration',
        '0.5',
        '--rounds',
        '1',
        '--warmup',
        '0',
        '--probe',
        '0.3',
        '--log-level',
        'warn',
        '--out',
        out,
      ],
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, tail: code === 0 ? '' : output.slice(-3000) }).toEqual({ code: 0, tail: '' });

    const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8'));
    const mode = results.results.find((r: any) => r.name === 'json-16');
    expect(mode.unavailable).toEqual({});
    for (const target of ['direct', 'floor', 'parley']) {
      const a = mode.aggregate[target];
      expect({ target, errors: a.errors, non2xx: a.non2xx, badStreams: a.badStreams }).toEqual({
        target,
        errors: 0,
        non2xx: 0,
        badStreams: 0,
      });
      expect(a.rps).toBeGreaterThan(0);
    }
  });
});
