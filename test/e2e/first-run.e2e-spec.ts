import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from 'test/support/private-redis';

/**
 * The first five minutes: `node dist/main.js` as a person starts it in a terminal (under a
 * pseudo-terminal made by `script`) and as a container runs it (stdout a pipe). Uses `dist/`
 * (npm run build).
 */
const MAIN = join(__dirname, '..', '..', 'dist', 'main.js');
/** Colour codes pino-pretty writes to a terminal. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

interface Started {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the gateway with a fresh SQLite file and no key; resolves once it listens. */
async function start(dir: string, port: number, options: { tty: boolean }): Promise<Started> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}`,
    ADMIN_TOKEN: 'admin-first-run-0123456789',
    TERM: 'xterm',
  };
  const command = `${process.execPath} ${MAIN}`;
  // `script` gives the gateway a pseudo-terminal as stdout, as an interactive shell would.
  const child = options.tty
    ? spawn('script', ['-qfc', command, '/dev/null'], { env, detached: true, stdio: 'pipe' })
    : spawn(process.execPath, [MAIN], { env, detached: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = once(child, 'exit');
  const deadline = Date.now() + 20_000;
  while (!output.replace(ANSI, '').includes('Parley listening')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`gateway did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => output.replace(ANSI, '').replace(/\r\n/g, '\n'),
    stop: async () => {
      // The group: `script` and the gateway under it (this test started both).
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

describe('first run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-first-run-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('in a terminal: readable lines, no route table, and a framed key with a curl line that works', async () => {
    const port = await freePort();
    const gw = await start(dir, port, { tty: true });
    try {
      const text = gw.output();
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      expect(lines.some((l) => l.startsWith('{'))).toBe(false);
      expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Parley listening/m);
      expect(text).not.toContain('Mapped {');
      // Everything from start to listening fits on a screen, banner included.
      expect(lines.length).toBeLessThan(40);

      const banner = text.slice(text.indexOf('┌'), text.indexOf('┘') + 1);
      expect(banner).toMatch(/^│ +API key: pk-\S+ +│$/m);
      expect(banner).toContain('Rate limit per key: 1/s, burst 30');
      // The curl command inside the frame (its continued lines), run as pasted.
      const inner = banner.split('\n').map((l) => l.replace(/^│ /, '').replace(/ *│$/, ''));
      const first = inner.findIndex((l) => l.includes('curl http'));
      let last = first;
      while (inner[last].endsWith('\\')) {
        last++;
      }
      const curlLines = inner.slice(first, last + 1).join('\n');
      expect(curlLines).toContain(`curl http://127.0.0.1:${port}/v1/chat/completions`);
      const answer = execFileSync('bash', ['-c', `${curlLines} -sS`], { encoding: 'utf8' });
      expect(JSON.parse(answer)).toMatchObject({
        object: 'chat.completion',
        model: 'echo',
        choices: [{ message: { role: 'assistant' } }],
      });
    } finally {
      await gw.stop();
    }
  });

  it('with stdout a pipe: one JSON object per line, the banner printed once, routes at debug only', async () => {
    const gw = await start(dir, await freePort(), { tty: false });
    try {
      const text = gw.output();
      const banner = text.slice(text.indexOf('┌'), text.indexOf('┘') + 1);
      expect(banner.split('\n').length).toBeGreaterThan(5);
      const rest = text
        .replace(banner, '')
        .split('\n')
        .filter((l) => l.trim() !== '');
      const parsed = rest.map((l) => JSON.parse(l) as { msg: string; level: number });
      expect(parsed.some((l) => l.msg === 'Parley listening')).toBe(true);
      expect(parsed.some((l) => l.msg.startsWith('Mapped {'))).toBe(false);
      expect(text.match(/API key: /g)).toHaveLength(1);
    } finally {
      await gw.stop();
    }
  });
});
