import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';
import { TEST_ADMIN_TOKEN } from 'test/support/start-gateway';
import { createTestDatabase, TestDatabase } from 'test/support/test-database';
import { waitFor as waitUntil } from 'test/support/time';

/** A probe that fails (a gateway restarting) counts as not there yet. */
const waitFor = <T>(read: () => Promise<T | undefined>, what: string) =>
  waitUntil(() => read().catch(() => undefined), { what, timeoutMs: 15_000 });

async function admin(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

const nodeOf = async (url: string, node: string) => {
  const res = await admin(url, 'GET', '/api/gpu-stats');
  return (res.body.nodes as any[]).find((n) => n.node === node);
};

/**
 * The agent as operators run it (`node dist/cli/gpu-agent.js`) with a fake `nvidia-smi` on its
 * PATH, reporting to one of two gateway processes on one database (SQLite file, or PostgreSQL
 * under the e2e-postgres project); the other serves the reports. Needs `npm run build`.
 */
describe('gpu agent → two gateway instances', () => {
  let dir: string;
  let db: TestDatabase;
  let a: SpawnedGateway;
  let b: SpawnedGateway;
  let agent: ChildProcess | null = null;
  let agentOutput = '';
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'parley-agent-'));
    db = await createTestDatabase(dir);
    env = { DATABASE_URL: db.url };
    a = await spawnGateway(env);
    b = await spawnGateway(env);
    // The fake reads its figures from a file the test rewrites, as the real tool reads the GPUs.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(dir, 'gpus.csv'), csv(37));
    writeFileSync(
      join(bin, 'nvidia-smi'),
      `#!/bin/sh\ncase "$*" in *--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw*--format=csv,noheader,nounits*) cat "${join(dir, 'gpus.csv')}";; *) echo "unexpected arguments: $*" >&2; exit 9;; esac\n`,
    );
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
  });
  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGKILL');
      await once(agent, 'exit');
    }
    a?.kill('SIGKILL');
    b?.kill('SIGKILL');
    await Promise.all([a?.exited, b?.exited]);
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  function csv(utilization: number): string {
    return [
      `0, GPU-1f2e3d4c-0000, NVIDIA H100 80GB HBM3, ${utilization}, 71234, 81559, 64, 412.50`,
      '1, GPU-1f2e3d4c-0001, NVIDIA H100 80GB HBM3, 0, 3, 81559, 31, [N/A]',
      '',
    ].join('\n');
  }

  function startAgent(args: string[]): ChildProcess {
    const child = spawn(
      process.execPath,
      [join(__dirname, '..', '..', 'dist', 'cli', 'gpu-agent.js'), ...args],
      {
        env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (c: Buffer) => (agentOutput += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (agentOutput += c.toString('utf8')));
    return child;
  }

  it('reports through gateway A; gateway B serves the GPUs; survives a restart of A', async () => {
    const created = await admin(a.url, 'POST', '/api/keys', {
      name: 'agent',
      user_id: 'gpu-node-7',
      role: 'node',
    });
    expect(created.status).toBe(201);
    const keyFile = join(dir, 'node.key');
    writeFileSync(keyFile, `${created.body.key}\n`, { mode: 0o600 });

    agent = startAgent([
      '--gateway',
      a.url,
      '--key-file',
      keyFile,
      '--interval',
      '0.2',
      '--node',
      'gpu-node-7',
    ]);
    const first = await waitFor(() => nodeOf(b.url, 'gpu-node-7'), 'the first report');
    expect(first).toEqual({
      node: 'gpu-node-7',
      reported_at: expect.any(String),
      stale: false,
      gpus: [
        {
          index: 0,
          uuid: 'GPU-1f2e3d4c-0000',
          name: 'NVIDIA H100 80GB HBM3',
          utilization_gpu: 37,
          memory_used_mib: 71234,
          memory_total_mib: 81559,
          temperature_c: 64,
          power_w: 412.5,
        },
        {
          index: 1,
          uuid: 'GPU-1f2e3d4c-0001',
          name: 'NVIDIA H100 80GB HBM3',
          utilization_gpu: 0,
          memory_used_mib: 3,
          memory_total_mib: 81559,
          temperature_c: 31,
          power_w: null,
        },
      ],
    });

    // Gateway A goes away: the agent logs each failed attempt and keeps trying.
    const port = a.port;
    a.kill('SIGKILL');
    await a.exited;
    writeFileSync(join(dir, 'gpus.csv'), csv(88));
    await waitFor(
      async () => ((agentOutput.match(/report failed/g) ?? []).length >= 2 ? true : undefined),
      'two failure lines',
    );
    expect(agent.exitCode).toBeNull();
    const failures = agentOutput.split('\n').filter((l) => l.includes('report failed'));
    expect(failures[0]).toMatch(
      /gateway unreachable \((ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET)\)\); attempt 1, next in 0\.4 s/,
    );
    expect(failures[1]).toMatch(/attempt 2, next in 0\.8 s/);
    expect((await nodeOf(b.url, 'gpu-node-7')).gpus[0].utilization_gpu).toBe(37);

    // A comes back on the same address: reports resume, and B serves the new figures.
    a = await spawnGateway({ ...env, PORT: String(port) });
    const resumed = await waitFor(async () => {
      const node = await nodeOf(b.url, 'gpu-node-7');
      return node?.gpus[0].utilization_gpu === 88 ? node : undefined;
    }, 'reports after the restart');
    expect(Date.parse(resumed.reported_at)).toBeGreaterThan(Date.parse(first.reported_at));
    // The agent logs once A's answer reached it, which can be after B already serves the report.
    await waitFor(
      async () =>
        /report delivered again after \d+ failed attempt/.test(agentOutput) ? true : undefined,
      'the line saying reports resumed',
    );

    agent.kill('SIGTERM');
    const [code] = (await once(agent, 'exit')) as [number | null];
    expect(code).toBe(0);
    agent = null;
  });

  it('logs a refused key once per attempt and keeps running', async () => {
    agentOutput = '';
    agent = startAgent([
      '--gateway',
      b.url,
      '--key',
      'pk-not-a-node-key-0123456789',
      '--interval',
      '0.2',
    ]);
    await waitFor(
      async () =>
        /gateway answered 401: invalid_authorization/.test(agentOutput) ? true : undefined,
      'the 401 line',
    );
    expect(agent.exitCode).toBeNull();
    agent.kill('SIGTERM');
    await once(agent, 'exit');
    agent = null;
  });

  it('refuses to start without --gateway', async () => {
    agentOutput = '';
    const child = startAgent(['--key', 'x']);
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(2);
    expect(agentOutput).toMatch(/--gateway is required/);
  });
});
