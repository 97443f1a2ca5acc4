/**
 * Side-by-side CPU of several gateway builds, for a shared, noisy machine where sequential
 * `npm run bench` runs move more than the change being measured (docs/notes/bench.md):
 *
 *   node -r ts-node/register/transpile-only -r tsconfig-paths/register bench/paired.ts \
 *     /tmp/dist-before /tmp/dist-after /tmp/dist-before-2 /tmp/dist-after-2
 *
 * Each argument is a built `dist/` (copied out of its tree; packages come from this tree's
 * node_modules). Every build runs at once next to the floor, on one fake upstream, each with
 * its own SQLite file; short load windows rotate between them (the order rotated and reversed
 * every round), so load from other processes hits every build alike. Give each build twice:
 * two gateways of one build differ by several percent. Reports each gateway's CPU ms/request
 * over all its windows and its ratio to the floor's.
 * Env: PAIRED_ROUNDS (default 8), PAIRED_WINDOW_S (2), PAIRED_MODES (`json-16,sse-16`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './drive';
import { benchCatalog, benchGatewayEnv, BENCH_KEY, buildModes, LoadMode } from './modes';
import {
  installCleanupHandlers,
  registerTempDir,
  startGateway,
  startServer,
  stopAll,
} from './processes';

const ROUNDS = Number(process.env.PAIRED_ROUNDS ?? 8);
const WINDOW_S = Number(process.env.PAIRED_WINDOW_S ?? 2);
const MODES = (process.env.PAIRED_MODES ?? 'json-16,sse-16').split(',');

interface Target {
  label: string;
  origin: string;
  pid: number;
  isFloor: boolean;
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const dists = process.argv.slice(2);
  if (dists.length === 0) {
    throw new Error('usage: bench/paired.ts <dist> [<dist>…]');
  }
  const tmp = mkdtempSync(join(tmpdir(), 'parley-paired-'));
  registerTempDir(tmp);
  const slow = { chunkDelayMs: 400, firstByteDelayMs: 500 };
  const upstream = await startServer('upstream', 'upstream-server.ts', { BENCH_SSE_CHUNKS: '20' });
  const floor = await startServer('floor', 'floor-server.ts', {
    BENCH_UPSTREAM_ORIGIN: upstream.origin,
  });
  const modelsFile = join(tmp, 'models.json');
  writeFileSync(modelsFile, JSON.stringify(benchCatalog(upstream.origin, slow)));
  const gateways = [];
  for (const [i, dist] of dists.entries()) {
    const env = benchGatewayEnv(join(tmp, `parley-${i}.sqlite`), modelsFile, 'info');
    gateways.push(await startGateway({ env, logFile: null, cpuProfileDir: null, dist }));
  }
  const targets: Target[] = [
    ...gateways.map((g, i) => ({ label: dists[i], origin: g.origin, pid: g.pid, isFloor: false })),
    { label: 'floor', origin: floor.origin, pid: floor.pid, isFloor: true },
  ];
  const modes = buildModes({ key: BENCH_KEY, parleyOrigin: '', quick: false, slow });
  for (const name of MODES) {
    const mode = modes.find((m): m is LoadMode => m.kind === 'load' && m.name === name);
    if (!mode) {
      throw new Error(`no load mode ${name}`);
    }
    const specOf = (t: Target) => mode.spec(t.isFloor ? 'floor' : 'parley');
    for (const t of targets) {
      await runLoad(t.origin, specOf(t), mode.connections, 3, {}); // warm-up
    }
    const totals = new Map(targets.map((t) => [t, { cpuMs: 0, requests: 0 }]));
    const loads: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = targets.map((_, k) => targets[(k + round) % targets.length]);
      if (round % 2 === 1) {
        order.reverse();
      }
      for (const t of order) {
        loads.push(loadavg()[0]);
        const r = await runLoad(t.origin, specOf(t), mode.connections, WINDOW_S, { t: t.pid });
        const requests = r.ok + r.non2xx;
        totals.get(t)!.cpuMs += (r.cpuMsPerRequest.t ?? 0) * requests;
        totals.get(t)!.requests += requests;
        if (r.non2xx > 0 || r.errors > 0) {
          console.log(`  ${t.label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
        }
      }
    }
    const msPerRequest = (t: Target) => totals.get(t)!.cpuMs / totals.get(t)!.requests;
    const floorMs = msPerRequest(targets[targets.length - 1]);
    console.log(
      `== ${name}: ${ROUNDS} rounds of ${WINDOW_S} s per target, ` +
        `load ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
    );
    for (const t of targets) {
      const ms = msPerRequest(t);
      console.log(
        `  ${t.label}: ${ms.toFixed(3)} ms/request (${(ms / floorMs).toFixed(2)}x floor), ` +
          `${Math.round(totals.get(t)!.requests / (ROUNDS * WINDOW_S))} req/s`,
      );
    }
  }
  await stopAll([...gateways, floor, upstream]);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
