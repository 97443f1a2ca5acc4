/**
 * `npm run bench`: Parley against the direct upstream and the thinnest Node pass-through (the
 * floor), on 127.0.0.1 only, round by round. See docs/notes/bench.md for what each column means.
 *
 *   npm run bench                       every mode, 5 rounds of 6 s per target
 *   npm run bench -- --quick            a smoke run (1 round of 2 s)
 *   npm run bench -- --modes json-16,c1-new --rounds 5 --duration 5
 *   npm run bench -- --profile --modes json-16     CPU profile of the gateway during one mode
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  closeOneShotPools,
  LoadResult,
  ProbeResult,
  runLoad,
  runProbe,
  runSlowStreams,
  sendOnce,
  SlowStreamsResult,
  streamEndOf,
} from './drive';
import {
  ALL_MODE_NAMES,
  BENCH_KEY,
  benchCatalog,
  benchGatewayEnv,
  buildModes,
  Endpoint,
  LoadMode,
  MemoryMode,
  Mode,
  TARGETS,
  TargetName,
} from './modes';
import {
  Child,
  installCleanupHandlers,
  registerTempDir,
  ROOT,
  startGateway,
  startServer,
  stopAll,
} from './processes';
import { formatProfile, summariseProfile } from './profile';
import {
  aggregateLoadMode,
  crossModeChecks,
  formatCrossText,
  formatMarkdown,
  formatModeText,
  LoadModeResult,
  memoryChecks,
  MemoryModeResult,
  ModeResult,
  RoundRecord,
  RunInfo,
} from './report';

interface Options {
  quick: boolean;
  modes: string[];
  durationS: number;
  rounds: number;
  warmupS: number;
  probeS: number;
  logLevel: string;
  gatewayLog: string | null;
  profile: boolean;
  outDir: string;
}

const HELP = `npm run bench -- [options]
  --quick              smoke run: 1 round, 2 s per target, short warm-up
  --modes a,b          modes to run (default: all): ${ALL_MODE_NAMES.join(', ')}
  --duration S         seconds of load per target per round (default 6; env BENCH_DURATION)
  --rounds N           rounds (default 5; env BENCH_ROUNDS)
  --warmup S           warm-up seconds per target before the first round (default 2)
  --probe S            seconds of the first-event probe per target per round (default 0.3 x duration)
  --log-level L        the gateway's LOG_LEVEL (default info: what production runs)
  --gateway-log FILE   keep the gateway's log (default: discarded)
  --profile            run the gateway under node --cpu-prof during the selected modes
                       (default json-16) and print where its CPU goes
  --out DIR            where results go (default bench/results)`;

function parseOptions(argv: string[]): Options {
  const env = process.env;
  const args = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      throw new Error(`unexpected argument "${arg}"\n${HELP}`);
    }
    const [name, inline] = arg.slice(2).split('=', 2);
    const flags = ['quick', 'profile', 'help'];
    if (flags.includes(name)) {
      args.set(name, true);
    } else if (inline !== undefined) {
      args.set(name, inline);
    } else if (i + 1 < argv.length) {
      args.set(name, argv[++i]);
    } else {
      throw new Error(`--${name} needs a value\n${HELP}`);
    }
  }
  if (args.has('help')) {
    console.log(HELP);
    process.exit(0);
  }
  const known = [
    'quick',
    'profile',
    'modes',
    'duration',
    'rounds',
    'warmup',
    'probe',
    'log-level',
    'gateway-log',
    'out',
  ];
  for (const name of args.keys()) {
    if (!known.includes(name)) {
      throw new Error(`unknown option --${name}\n${HELP}`);
    }
  }
  const str = (name: string, envName?: string) => {
    const v = args.get(name);
    return typeof v === 'string' ? v : envName ? env[envName] : undefined;
  };
  const num = (name: string, envName: string | undefined, fallback: number, min: number) => {
    const raw = str(name, envName);
    if (raw === undefined || raw === '') {
      return fallback;
    }
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) {
      throw new Error(`--${name} must be a number >= ${min}, got "${raw}"`);
    }
    return value;
  };
  const quick = args.has('quick') || env.BENCH_QUICK === '1';
  const profile = args.has('profile');
  const modes = (str('modes', 'BENCH_MODES') ?? (profile ? 'json-16' : ALL_MODE_NAMES.join(',')))
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of modes) {
    if (!ALL_MODE_NAMES.includes(m)) {
      throw new Error(`unknown mode "${m}"; modes: ${ALL_MODE_NAMES.join(', ')}`);
    }
  }
  const durationS = num('duration', 'BENCH_DURATION', quick ? 2 : 6, 0.2);
  return {
    quick,
    modes,
    durationS,
    rounds: Math.round(num('rounds', 'BENCH_ROUNDS', quick ? 1 : 5, 1)),
    warmupS: num('warmup', undefined, quick ? 0.5 : 2, 0),
    probeS: num('probe', undefined, Math.max(1, 0.3 * durationS), 0.2),
    logLevel: str('log-level') ?? 'info',
    gatewayLog: str('gateway-log') ?? null,
    profile,
    outDir: str('out') ?? join(ROOT, 'bench', 'results'),
  };
}

const say = (text: string) => process.stderr.write(`${text}\n`);
const f = (n: number | null | undefined, d = 2) =>
  n === null || n === undefined ? '-' : n.toFixed(d);

function describeLoad(load: LoadResult, probe: ProbeResult): string {
  const bad = load.errors + load.non2xx + probe.errors + probe.non2xx + probe.badStreams;
  return (
    `${f(load.rps, 0)} req/s, p50 ${f(load.latency?.p50)} ms, p99 ${f(load.latency?.p99)} ms, ` +
    `1st event p50 ${f(probe.firstEvent?.p50)} ms, CPU ${f(load.cpuMsPerRequest.proxy, 3)} ms/req` +
    (bad ? `, ${bad} FAILED (${JSON.stringify(load.statusCodes)}) ${probe.firstFailure ?? ''}` : '')
  );
}

interface Run {
  options: Options;
  endpoints: Record<TargetName, Endpoint>;
  upstream: Child;
}

/** One request per target before measuring: a target that cannot answer is left out, said. */
async function preflight(origin: string, mode: LoadMode | MemoryMode, target: TargetName) {
  const spec = mode.spec(target);
  const lease = spec.lease?.();
  try {
    const res = await sendOnce(origin, {
      method: spec.method,
      path: spec.path,
      headers: lease ? { ...spec.headers, ...lease.headers } : spec.headers,
      body: spec.body,
    });
    if (res.status < 200 || res.status >= 300) {
      return `${res.status} ${res.text.slice(0, 300)}`;
    }
    if (spec.stream && !res.text.includes(streamEndOf(spec))) {
      return `stream without [DONE]: ${res.text.slice(-300)}`;
    }
    return null;
  } catch (error) {
    return String(error);
  } finally {
    lease?.release();
  }
}

function watchFor(run: Run, target: TargetName): Record<string, number> {
  const pid = run.endpoints[target].pid;
  return { ...(pid ? { proxy: pid } : {}), upstream: run.upstream.pid };
}

async function runLoadMode(
  run: Run,
  mode: LoadMode,
  targets: TargetName[],
  onMeasure?: () => void,
): Promise<LoadModeResult> {
  const { options } = run;
  const unavailable: Partial<Record<TargetName, string>> = {};
  let setup: string | null = null;
  let setupSeconds: number | null = null;
  if (targets.includes('parley') && (mode.setup || mode.beforeRound)) {
    const started = performance.now();
    try {
      setup = (await mode.setup?.()) || null;
      await mode.beforeRound?.(0);
    } catch (error) {
      unavailable.parley = `setup failed: ${String(error)}`;
    }
    setupSeconds = (performance.now() - started) / 1000;
    if (setup) {
      say(`  setup (not measured): ${setup} in ${f(setupSeconds, 1)} s`);
    }
  }
  const available: TargetName[] = [];
  for (const target of targets) {
    if (unavailable[target]) {
      continue;
    }
    const problem = await preflight(run.endpoints[target].origin, mode, target);
    if (problem) {
      unavailable[target] = problem;
      say(`  ${target}: left out, preflight failed: ${problem}`);
    } else {
      available.push(target);
    }
  }
  if (options.warmupS > 0) {
    for (const target of available) {
      await runLoad(
        run.endpoints[target].origin,
        mode.spec(target),
        mode.connections,
        options.warmupS,
        {},
      );
    }
  }
  const rounds: RoundRecord[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    if (available.includes('parley')) {
      await mode.beforeRound?.(round);
    }
    if (round === 1) {
      onMeasure?.();
    }
    for (const target of available) {
      const { origin } = run.endpoints[target];
      const spec = mode.spec(target);
      const load = await runLoad(
        origin,
        spec,
        mode.connections,
        options.durationS,
        watchFor(run, target),
      );
      const probe = await runProbe(origin, spec, mode.connections, options.probeS);
      rounds.push({ round, target, load, probe });
      say(`  round ${round} ${target.padEnd(6)} ${describeLoad(load, probe)}`);
    }
  }
  return {
    kind: 'load',
    name: mode.name,
    title: mode.title,
    connections: mode.connections,
    notes: mode.notes,
    setup,
    setupSeconds,
    unavailable,
    rounds,
    ...aggregateLoadMode(mode, rounds),
  };
}

async function runMemoryMode(
  run: Run,
  mode: MemoryMode,
  targets: TargetName[],
): Promise<MemoryModeResult> {
  const results: Partial<Record<TargetName, SlowStreamsResult>> = {};
  const unavailable: Partial<Record<TargetName, string>> = {};
  for (const target of targets) {
    const { origin, pid } = run.endpoints[target];
    const result = await runSlowStreams(origin, mode.spec(target), mode.streams, mode.stallMs, pid);
    if (result.completed === 0) {
      unavailable[target] = result.firstFailure ?? 'no stream completed';
      say(`  ${target}: no stream completed: ${unavailable[target]}`);
      continue;
    }
    results[target] = result;
    say(
      `  ${target.padEnd(6)} ${result.completed}/${result.streams} completed, ${result.stalled} stalled, ` +
        `${result.dropped} dropped, ${result.peakOpen} open at once, max gap ${f(result.maxGapMs, 0)} ms, ` +
        `RSS peak ${result.rssPeakBytes ? (result.rssPeakBytes / 2 ** 20).toFixed(0) : '-'} MB in ${f(result.seconds, 1)} s` +
        (result.firstFailure ? ` (${result.firstFailure})` : ''),
    );
  }
  return {
    kind: 'memory',
    name: mode.name,
    title: mode.title,
    notes: mode.notes,
    unavailable,
    results,
    checks: memoryChecks(mode, results),
  };
}

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}`;
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const options = parseOptions(process.argv.slice(2));
  const tmp = mkdtempSync(join(tmpdir(), 'parley-bench-'));
  registerTempDir(tmp);
  const slow = { chunkDelayMs: 400, firstByteDelayMs: 500 };

  say('starting the fake upstream and the floor…');
  const upstream = await startServer('upstream', 'upstream-server.ts', { BENCH_SSE_CHUNKS: '20' });
  const floor = await startServer('floor', 'floor-server.ts', {
    BENCH_UPSTREAM_ORIGIN: upstream.origin,
  });
  const modelsFile = join(tmp, 'models.json');
  writeFileSync(modelsFile, JSON.stringify(benchCatalog(upstream.origin, slow), null, 2));
  const gatewayEnv = benchGatewayEnv(join(tmp, 'parley.sqlite'), modelsFile, options.logLevel);
  const settings =
    `Parley: node dist/main.js, LOG_LEVEL=${options.logLevel}, SQLite (temp file), rate limit 1e6/s. ` +
    `${options.rounds} round(s) of ${options.durationS} s per target (+${f(options.probeS, 1)} s first-event probe), ` +
    `${options.warmupS} s warm-up.`;
  if (options.profile) {
    await profileRun(options, upstream, floor, gatewayEnv, tmp, slow);
    return;
  }
  say('starting Parley (node dist/main.js)…');
  let parley = await startGateway({
    env: gatewayEnv,
    logFile: options.gatewayLog,
    cpuProfileDir: null,
  });
  const run: Run = {
    options,
    upstream,
    endpoints: {
      direct: { name: 'direct', origin: upstream.origin, pid: null },
      floor: { name: 'floor', origin: floor.origin, pid: floor.pid },
      parley: { name: 'parley', origin: parley.origin, pid: parley.pid },
    },
  };
  const info: RunInfo = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: machine(),
    node: process.version,
    settings,
    loadAverage: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
  say(`${info.machine}; load average ${info.loadAverage}\n${settings}`);
  const modes = buildModes({
    key: BENCH_KEY,
    parleyOrigin: parley.origin,
    quick: options.quick,
    slow,
  });
  const results: ModeResult[] = [];
  for (const mode of modes.filter((m) => options.modes.includes(m.name))) {
    say(`\n== ${mode.name}: ${mode.title} (load average ${loadavg()[0].toFixed(2)})`);
    if (mode.kind === 'memory' && results.length > 0) {
      // The memory run measures what holding streams costs, not the heap left over by the
      // modes before it (1,000-turn histories grow V8's heap): it gets a freshly started
      // gateway on the same database.
      say('  restarting Parley for a clean RSS baseline…');
      await parley.stop();
      parley = await startGateway({
        env: gatewayEnv,
        logFile: options.gatewayLog,
        cpuProfileDir: null,
      });
      run.endpoints.parley = { name: 'parley', origin: parley.origin, pid: parley.pid };
    }
    const result =
      mode.kind === 'load'
        ? await runLoadMode(run, mode, TARGETS)
        : await runMemoryMode(run, mode, TARGETS);
    results.push(result);
  }
  const cross = crossModeChecks(results);
  const counters = await upstream.counters();
  await closeOneShotPools();
  await stopAll([parley, floor, upstream]);

  console.log(`\nParley benchmark — ${info.date}, ${info.machine}, Node ${info.node}`);
  console.log(settings);
  console.log(
    'Ratios and "added" figures are medians of per-round comparisons with the other targets of the same round.\n',
  );
  for (const result of results) {
    console.log(formatModeText(result));
    console.log('');
  }
  const crossText = formatCrossText(cross);
  if (crossText) {
    console.log(crossText);
  }
  mkdirSync(options.outDir, { recursive: true });
  const json = join(options.outDir, 'latest.json');
  const md = join(options.outDir, 'latest.md');
  writeFileSync(
    json,
    `${JSON.stringify({ info, options, upstreamCounters: counters, results, cross }, null, 2)}\n`,
  );
  writeFileSync(md, formatMarkdown(info, results, cross));
  console.log(`\nwrote ${json} and ${md}`);
}

async function profileRun(
  options: Options,
  upstream: Child,
  floor: Child,
  gatewayEnv: Record<string, string>,
  tmp: string,
  slow: { chunkDelayMs: number; firstByteDelayMs: number },
): Promise<void> {
  mkdirSync(options.outDir, { recursive: true });
  for (const name of options.modes) {
    const dir = join(tmp, `profile-${name}`);
    mkdirSync(dir);
    say(`\n== profiling ${name}: starting Parley under node --cpu-prof…`);
    const parley = await startGateway({
      env: gatewayEnv,
      logFile: options.gatewayLog,
      cpuProfileDir: dir,
    });
    const endpoints: Record<TargetName, Endpoint> = {
      direct: { name: 'direct', origin: upstream.origin, pid: null },
      floor: { name: 'floor', origin: floor.origin, pid: floor.pid },
      parley: { name: 'parley', origin: parley.origin, pid: parley.pid },
    };
    const modes = buildModes({
      key: BENCH_KEY,
      parleyOrigin: parley.origin,
      quick: options.quick,
      slow,
    });
    const mode = modes.find((m): m is Mode => m.name === name)!;
    const run: Run = { options: { ...options, rounds: 1 }, endpoints, upstream };
    // The profile is cut to the measured rounds: setup, seeding and warm-up are left out.
    let measuredFrom = Number(process.hrtime.bigint() / 1000n);
    let requests: number | null = null;
    const onMeasure = () => {
      measuredFrom = Number(process.hrtime.bigint() / 1000n);
    };
    if (mode.kind === 'load') {
      const result = await runLoadMode(run, mode, ['parley'], onMeasure);
      requests = result.rounds.reduce((acc, r) => acc + r.load.ok + r.probe.requests, 0);
      say(formatModeText(result));
    } else {
      const result = await runMemoryMode(run, mode, ['parley']);
      requests = result.results.parley?.streams ?? null;
      say(formatModeText(result));
    }
    const toUs = Number(process.hrtime.bigint() / 1000n);
    await closeOneShotPools();
    await parley.stop(20_000);
    const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
    if (!file) {
      throw new Error(`no .cpuprofile in ${dir}: did the gateway exit cleanly?`);
    }
    const kept = join(options.outDir, `profile-${name}.cpuprofile`);
    copyFileSync(join(dir, file), kept);
    const summary = summariseProfile(kept, ROOT, { fromUs: measuredFrom, toUs });
    const text = formatProfile(summary, requests);
    console.log(`\n== CPU profile of Parley during ${name} (measured window only)\n${text}`);
    writeFileSync(join(options.outDir, `profile-${name}.txt`), `${text}\n`);
    writeFileSync(
      join(options.outDir, `profile-${name}.json`),
      `${JSON.stringify(summary, null, 2)}\n`,
    );
    console.log(`\nprofile kept in ${kept} (open it in Chrome DevTools or speedscope.app)`);
  }
  await stopAll([floor, upstream]);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
