/**
 * Starting, watching and stopping the benchmark's child processes. Every child is registered
 * here and killed when the driver exits, however it exits (end of run, Ctrl-C, error).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { transpileModule, ModuleKind, ScriptTarget } from 'typescript';
import { request } from 'undici';

export const ROOT = join(__dirname, '..');
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export interface Child {
  name: string;
  pid: number;
  port: number;
  origin: string;
  process: ChildProcess;
  /** The last lines the process wrote to stderr (for failure messages). */
  stderrTail(): string;
  /** Asks an IPC child for its counters. */
  counters(): Promise<Record<string, number>>;
  stop(timeoutMs?: number): Promise<void>;
}

let clockTicks = 100;
try {
  clockTicks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  /* 100 is the Linux default */
}

/** CPU time (user + system) a process used so far, in ms; null where /proc is missing. */
export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
  } catch {
    return null;
  }
}

/** Resident set size of a process in bytes (`VmRSS`), or its peak (`VmHWM`). */
export function rssBytes(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

export function registerTempDir(dir: string): void {
  tempDirs.add(dir);
}

function track(name: string, child: ChildProcess): Omit<Child, 'port' | 'origin'> {
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-8000);
  });
  const counterWaiters: ((value: Record<string, number>) => void)[] = [];
  child.on('message', (message: any) => {
    if (message?.type === 'counters') {
      counterWaiters.shift()?.(message);
    }
  });
  return {
    name,
    pid: child.pid ?? 0,
    process: child,
    stderrTail: () => stderr.trim().split('\n').slice(-20).join('\n'),
    counters: () =>
      new Promise((resolve) => {
        if (!child.connected) {
          resolve({});
          return;
        }
        counterWaiters.push(resolve);
        child.send({ type: 'counters' });
      }),
    stop: async (timeoutMs = 10_000) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return;
      }
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

let compiledServers: string | null = null;

/**
 * `bench/servers/*.ts` compiled to plain JavaScript in a temp dir, so the child processes run
 * without ts-node (whose TypeScript compiler would add ~150 MB to the floor's RSS and a second
 * to each start).
 */
function serversDir(): string {
  if (compiledServers) {
    return compiledServers;
  }
  const source = join(ROOT, 'bench', 'servers');
  const out = mkdtempSync(join(tmpdir(), 'parley-bench-servers-'));
  registerTempDir(out);
  for (const file of readdirSync(source)) {
    if (file.endsWith('.ts') && !file.endsWith('.d.ts')) {
      const { outputText } = transpileModule(readFileSync(join(source, file), 'utf8'), {
        compilerOptions: {
          module: ModuleKind.CommonJS,
          target: ScriptTarget.ES2022,
          esModuleInterop: true,
        },
      });
      writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText);
    }
  }
  compiledServers = out;
  return out;
}

/** Starts one of `bench/servers/*.ts` (compiled) and waits for its `ready` message. */
export async function startServer(
  name: string,
  script: string,
  env: Record<string, string> = {},
): Promise<Child> {
  const child = spawn(process.execPath, [join(serversDir(), script.replace(/\.ts$/, '.js'))], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      NODE_PATH: join(ROOT, 'node_modules'),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  const tracked = track(name, child);
  const ready = await new Promise<{ port: number } & Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s`)), 30_000);
    child.on('message', (message: any) => {
      if (message?.type === 'ready') {
        clearTimeout(timer);
        resolve(message);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${tracked.stderrTail()}`));
    });
  });
  child.channel?.unref();
  return { ...tracked, port: ready.port, origin: `http://127.0.0.1:${ready.port}` };
}

export interface GatewayOptions {
  env: Record<string, string>;
  /** Where the gateway's stdout (its JSON log) goes; null = discarded (/dev/null). */
  logFile: string | null;
  /** Directory for `node --cpu-prof`; null = no profile. */
  cpuProfileDir: string | null;
  /** A build to run instead of this tree's `dist/` (a copy of another tree's, for A/B runs). */
  dist?: string;
}

/** Starts Parley as production runs it (`node dist/main.js`) and waits for `/healthz`. */
export async function startGateway(options: GatewayOptions): Promise<Child> {
  const port = await freePort();
  const logFd = options.logFile ? openSync(options.logFile, 'a') : null;
  const args = [
    ...(options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : []),
    '-r',
    join(ROOT, 'bench', 'servers', 'exit-with-parent.js'),
    join(options.dist ?? join(ROOT, 'dist'), 'main.js'),
  ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      // A build copied outside the tree finds its packages here.
      NODE_PATH: join(ROOT, 'node_modules'),
      // For diagnostics only (e.g. `--require ./my-hook.js`); unset in a normal run.
      ...(process.env.BENCH_GATEWAY_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS }
        : {}),
      // `0` measures /c1 with every history read from the database (restart, other instance).
      ...(process.env.BENCH_HISTORY_CACHE_BYTES
        ? { HISTORY_CACHE_BYTES: process.env.BENCH_HISTORY_CACHE_BYTES }
        : {}),
      ...options.env,
    },
    stdio: ['ignore', logFd ?? 'ignore', 'pipe', 'ipc'],
  });
  if (logFd !== null) {
    closeSync(logFd);
  }
  const tracked = track('parley', child);
  child.channel?.unref();
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`parley exited during start:\n${tracked.stderrTail()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`parley did not answer /healthz in 60 s:\n${tracked.stderrTail()}`);
    }
    try {
      const res = await request(`${origin}/healthz`);
      await res.body.dump();
      if (res.statusCode === 200) {
        break;
      }
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { ...tracked, port, origin };
}

/** Kills every child still running and removes temp dirs; synchronous (safe in 'exit'). */
export function killEverything(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
  for (const dir of tempDirs) {
    // BENCH_KEEP_TEMP=1 keeps the SQLite file and catalog for a look afterwards.
    if (process.env.BENCH_KEEP_TEMP === '1') {
      console.error(`kept ${dir}`);
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  tempDirs.clear();
}

/** Stops children gracefully (SIGTERM, then SIGKILL after the timeout). */
export async function stopAll(children: Child[], timeoutMs = 10_000): Promise<void> {
  await Promise.all(children.map((c) => c.stop(timeoutMs)));
}

let installed = false;
/** Ctrl-C, SIGTERM, an uncaught error or a normal exit: nothing this driver started survives. */
export function installCleanupHandlers(): void {
  if (installed) {
    return;
  }
  installed = true;
  process.on('exit', killEverything);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process the benchmark started`);
      killEverything();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    console.error(error);
    killEverything();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    console.error(error);
    killEverything();
    process.exit(1);
  });
}
