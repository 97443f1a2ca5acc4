import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { HEADER } from 'src/common/http/headers';
import { TEST_API_KEY, TEST_GATEWAY_ENV } from 'test/support/start-gateway';

export interface SpawnedGateway {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The environment of a spawned gateway kept in `dir`: its SQLite file `parley.sqlite` and the
 * catalog `models.json` (written with `writeModelsFile`).
 */
export function sqliteGatewayEnv(dir: string): Record<string, string> {
  return {
    DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}`,
    MODELS_FILE: join(dir, 'models.json'),
  };
}

/** A JSON /c1/chat/completions turn with the test key: its status and parsed body. */
export async function postChatTurn(
  url: string,
  body: object,
  conversationId?: string,
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/c1/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      'content-type': 'application/json',
      ...(conversationId ? { [HEADER.conversationId]: conversationId } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/**
 * Starts `node dist/main.js` (built by `npm test`'s pretest) as a real child process, for
 * tests about signals, crashes and several instances. Resolves once it listens.
 */
export async function spawnGateway(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<SpawnedGateway> {
  const main = join(__dirname, '..', '..', 'dist', 'main.js');
  const child = spawn(process.execPath, [main], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      ...TEST_GATEWAY_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const deadline = Date.now() + timeoutMs;
  let port = 0;
  while (!port) {
    const match = /"port":(\d+),"msg":"Parley listening"/.exec(output);
    if (match) {
      port = Number(match[1]);
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start:\n${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => output,
    exited,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}
