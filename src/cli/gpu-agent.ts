import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import {
  GpuEntry,
  NVIDIA_SMI_ARGS,
  readNvidiaSmiCsv,
  readRocmSmiJson,
  ROCM_SMI_ARGS,
} from 'src/cli/gpu-agent/gpu-readers';
import { MAX_GPUS_PER_REPORT } from 'src/modules/fleet/gpu-report';
import { PeriodicTask } from 'src/common/time/periodic-task';

const USAGE = `Usage: npm run gpu-agent -- --gateway <url> (--key <key> | --key-file <path>)
                          [--interval <seconds>] [--node <name>]

  Reports this machine's GPUs to a Parley gateway (POST /api/gpu-stats) every interval
  (default 5 s), read from nvidia-smi and/or rocm-smi. The key must have role "node".
  While the gateway cannot be reached the agent keeps trying, waiting twice as long after
  each failure (at most 60 s), and logs one line per failure.`;

/** Longest wait between two attempts while the gateway fails. */
const MAX_BACKOFF_MS = 60_000;
/** A GPU tool or the gateway that takes longer than this counts as a failure. */
const TOOL_TIMEOUT_MS = 10_000;
const POST_TIMEOUT_MS = 10_000;

interface Options {
  endpoint: string;
  key: string;
  intervalMs: number;
  node: string;
}

class UsageError extends Error {}

function readOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      gateway: { type: 'string' },
      key: { type: 'string' },
      'key-file': { type: 'string' },
      interval: { type: 'string', default: '5' },
      node: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    throw new UsageError('');
  }
  if (!values.gateway) {
    throw new UsageError('--gateway is required');
  }
  let endpoint: URL;
  try {
    endpoint = new URL('/api/gpu-stats', values.gateway);
  } catch {
    throw new UsageError(`--gateway is not a URL: ${values.gateway}`);
  }
  const key = values['key-file']
    ? readFileSync(values['key-file'], 'utf8').trim()
    : values.key?.trim();
  if (!key) {
    throw new UsageError('--key or --key-file is required');
  }
  const interval = Number(values.interval);
  if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600) {
    throw new UsageError('--interval must be a number of seconds, 0.1-3600');
  }
  const node =
    values.node ??
    hostname()
      .replace(/[^A-Za-z0-9._:-]/g, '-')
      .slice(0, 128);
  return { endpoint: endpoint.toString(), key, intervalMs: interval * 1000, node };
}

function run(command: string, args: string[]): Promise<string | null> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: TOOL_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve(null);
        } else if (error) {
          reject(new Error(`${command} failed: ${error.message.split('\n')[0]}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** Every GPU nvidia-smi and rocm-smi see (ROCm GPUs numbered after NVIDIA's). */
async function readGpus(): Promise<GpuEntry[]> {
  const nvidia = await run('nvidia-smi', NVIDIA_SMI_ARGS);
  const gpus = nvidia === null ? [] : readNvidiaSmiCsv(nvidia);
  const rocm = await run('rocm-smi', ROCM_SMI_ARGS);
  if (rocm !== null) {
    const first = gpus.length === 0 ? 0 : Math.max(...gpus.map((g) => g.index)) + 1;
    gpus.push(...readRocmSmiJson(rocm, first));
  }
  if (nvidia === null && rocm === null) {
    throw new Error('neither nvidia-smi nor rocm-smi is on PATH');
  }
  return gpus.slice(0, MAX_GPUS_PER_REPORT);
}

async function post(options: Options, gpus: GpuEntry[]): Promise<void> {
  let res: Response;
  try {
    res = await fetch(options.endpoint, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ node: options.node, gpus }),
      signal: AbortSignal.timeout(POST_TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    throw new Error(`gateway unreachable (${cause ?? (error as Error).name})`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    let detail = '';
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
      detail = body.error?.code ? `: ${body.error.code} ${body.error.message ?? ''}` : '';
    } catch {
      // Not Parley's envelope (a proxy's error page): the status says enough.
    }
    throw new Error(`gateway answered ${res.status}${detail}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let options: Options;
  try {
    options = readOptions(argv);
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      const message = (error as Error).message;
      if (message) {
        console.error(message);
      }
      console.error(USAGE);
      return 2;
    }
    throw error;
  }
  console.log(
    `gpu-agent: reporting node ${options.node} to ${options.endpoint} every ${options.intervalMs / 1000} s`,
  );
  let failed = 0;
  const reports = new PeriodicTask(
    async () => {
      await post(options, await readGpus());
      if (failed > 0) {
        console.log(`gpu-agent: report delivered again after ${failed} failed attempt(s)`);
      }
      failed = 0;
    },
    {
      everyMs: options.intervalMs,
      backoffMaxMs: MAX_BACKOFF_MS,
      keepsProcessAlive: true,
      onError: (error, { failures, retryInMs }) => {
        failed = failures;
        console.error(
          `gpu-agent: report failed (${(error as Error).message}); attempt ${failures}, next in ${(retryInMs / 1000).toFixed(1)} s`,
        );
      },
    },
  );
  reports.start({ runNow: true });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await reports.stop();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`gpu-agent: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
