import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway } from 'test/support/spawn-gateway';

describe('the gateway process', () => {
  it('stops with one line naming each bad variable and exit code 1', () => {
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
      env: { PATH: process.env.PATH, PORT: '80a', LOG_LEVEL: 'loud' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      'PORT: must be an integer 0-65535, got "80a"',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('starts on a fresh SQLite file, answers, and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-proc-'));
    const gw = await spawnGateway({ DATABASE_URL: `sqlite:${join(dir, 'db', 'parley.sqlite')}` });
    const res = await fetch(`${gw.url}/readyz`);
    expect(res.status).toBe(200);
    gw.kill('SIGTERM');
    expect(await gw.exited).toEqual({ code: 0, signal: null });
  });
});
