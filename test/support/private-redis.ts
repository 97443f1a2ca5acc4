import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';

export interface PrivateRedis {
  url: string;
  port: number;
  /** Starts (or restarts) the server on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Kills the server at once (SIGKILL): an outage, not a shutdown. */
  kill(): Promise<void>;
  /** Freezes (SIGSTOP) or thaws (SIGCONT) the server: connections stay open, nothing answers. */
  freeze(): void;
  thaw(): void;
}

/** A TCP port free on 127.0.0.1 right now (for a server that must be told its port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}

/**
 * A throwaway `redis-server` of this test's own on a free 127.0.0.1 port, with no persistence,
 * for tests that stop Redis mid-run. Never the machine's shared Redis: other suites use it.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const redis: PrivateRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    start: async () => {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        { stdio: 'ignore' },
      );
      const deadline = Date.now() + 10_000;
      while (!(await accepts(port))) {
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`redis-server did not start on port ${port}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    freeze: () => {
      child?.kill('SIGSTOP');
    },
    thaw: () => {
      child?.kill('SIGCONT');
    },
    kill: async () => {
      const running = child;
      child = null;
      if (running && running.exitCode === null) {
        const exited = once(running, 'exit');
        running.kill('SIGKILL');
        running.kill('SIGCONT');
        await exited;
      }
    },
  };
  await redis.start();
  return redis;
}
