/**
 * Turns raw rounds into the figures issue 10 asks for (ratios taken within the same round,
 * then the median over rounds), and prints them as text tables and markdown.
 */
import { LoadResult, ProbeResult, SlowStreamsResult } from './drive';
import { LoadMode, MemoryMode, TARGETS, TargetCheck, TargetName } from './modes';
import { median, sum } from './stats';

export interface RoundRecord {
  round: number;
  target: TargetName;
  load: LoadResult;
  probe: ProbeResult;
}

export interface Aggregate {
  rounds: number;
  rps: number | null;
  xDirect: number | null;
  xFloor: number | null;
  p50: number | null;
  p99: number | null;
  p50Added: number | null;
  p99Added: number | null;
  firstEventP50: number | null;
  firstEventP99: number | null;
  firstEventAdded: number | null;
  errors: number;
  non2xx: number;
  badStreams: number;
  cpuMsPerRequest: number | null;
  /** CPU per request relative to the floor's in the same round (less noisy than req/s). */
  cpuXFloor: number | null;
  upstreamCpuMsPerRequest: number | null;
}

export interface CheckOutcome {
  label: string;
  value: number | null;
  passed: boolean | null;
}

export interface LoadModeResult {
  kind: 'load';
  name: string;
  title: string;
  connections: number;
  notes: string[];
  setup: string | null;
  setupSeconds: number | null;
  unavailable: Partial<Record<TargetName, string>>;
  rounds: RoundRecord[];
  aggregate: Partial<Record<TargetName, Aggregate>>;
  checks: CheckOutcome[];
}

export interface MemoryModeResult {
  kind: 'memory';
  name: string;
  title: string;
  notes: string[];
  unavailable: Partial<Record<TargetName, string>>;
  results: Partial<Record<TargetName, SlowStreamsResult>>;
  checks: CheckOutcome[];
}

export type ModeResult = LoadModeResult | MemoryModeResult;

export function aggregateLoadMode(
  mode: LoadMode,
  rounds: RoundRecord[],
): Pick<LoadModeResult, 'aggregate' | 'checks'> {
  const byRound = new Map<number, Partial<Record<TargetName, RoundRecord>>>();
  for (const r of rounds) {
    const entry = byRound.get(r.round) ?? {};
    entry[r.target] = r;
    byRound.set(r.round, entry);
  }
  const aggregate: Partial<Record<TargetName, Aggregate>> = {};
  for (const target of TARGETS) {
    const mine = rounds.filter((r) => r.target === target);
    if (mine.length === 0) {
      continue;
    }
    const sameRound = (
      pick: (own: RoundRecord, other: RoundRecord) => number | null,
      otherName: TargetName,
    ) =>
      median(
        mine.map((own) => {
          const other = byRound.get(own.round)?.[otherName];
          return other ? pick(own, other) : null;
        }),
      );
    const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
    const diff = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined ? null : a - b;
    aggregate[target] = {
      rounds: mine.length,
      rps: median(mine.map((r) => r.load.rps)),
      xDirect: sameRound((o, d) => ratio(o.load.rps, d.load.rps), 'direct'),
      xFloor: sameRound((o, f) => ratio(o.load.rps, f.load.rps), 'floor'),
      p50: median(mine.map((r) => r.load.latency?.p50)),
      p99: median(mine.map((r) => r.load.latency?.p99)),
      p50Added: sameRound((o, d) => diff(o.load.latency?.p50, d.load.latency?.p50), 'direct'),
      p99Added: sameRound((o, d) => diff(o.load.latency?.p99, d.load.latency?.p99), 'direct'),
      firstEventP50: median(mine.map((r) => r.probe.firstEvent?.p50)),
      firstEventP99: median(mine.map((r) => r.probe.firstEvent?.p99)),
      firstEventAdded: sameRound(
        (o, d) => diff(o.probe.firstEvent?.p50, d.probe.firstEvent?.p50),
        'direct',
      ),
      errors: sum(mine.map((r) => r.load.errors + r.probe.errors)),
      non2xx: sum(mine.map((r) => r.load.non2xx + r.probe.non2xx)),
      badStreams: sum(mine.map((r) => r.probe.badStreams)),
      cpuMsPerRequest: median(mine.map((r) => r.load.cpuMsPerRequest.proxy)),
      cpuXFloor: sameRound((o, f) => {
        const own = o.load.cpuMsPerRequest.proxy;
        const floor = f.load.cpuMsPerRequest.proxy;
        return own === null || own === undefined || !floor ? null : own / floor;
      }, 'floor'),
      upstreamCpuMsPerRequest: median(mine.map((r) => r.load.cpuMsPerRequest.upstream)),
    };
  }
  const parley = aggregate.parley;
  const checks = mode.checks.map((check) => evaluate(check, parley ? parley[check.metric] : null));
  if (parley) {
    checks.push({
      label: 'no errors, no non-2xx, no broken stream',
      value: parley.errors + parley.non2xx + parley.badStreams,
      passed: parley.errors + parley.non2xx + parley.badStreams === 0,
    });
  }
  return { aggregate, checks };
}

export function evaluate(check: Pick<TargetCheck, 'label' | 'op' | 'value'>, value: number | null) {
  return {
    label: check.label,
    value,
    passed: value === null ? null : check.op === '>=' ? value >= check.value : value <= check.value,
  };
}

export function memoryChecks(mode: MemoryMode, results: MemoryModeResult['results']) {
  const parley = results.parley;
  if (!parley) {
    return [];
  }
  const rssMb = parley.rssPeakBytes === null ? null : parley.rssPeakBytes / 2 ** 20;
  return [
    evaluate({ label: 'peak RSS <= 300 MB', op: '<=', value: 300 }, rssMb),
    evaluate({ label: 'no stream stalled', op: '<=', value: 0 }, parley.stalled),
    evaluate({ label: 'no stream dropped', op: '<=', value: 0 }, parley.dropped),
    evaluate(
      { label: `all ${mode.streams} streams open at once`, op: '>=', value: mode.streams },
      parley.peakOpen,
    ),
  ];
}

/** Issue 10: a turn with 1,000 stored turns costs at most 2x a turn with 10. */
export function crossModeChecks(results: ModeResult[]): CheckOutcome[] {
  const load = (name: string) =>
    results.find((r): r is LoadModeResult => r.kind === 'load' && r.name === name)?.aggregate
      .parley;
  const small = load('c1-10');
  const large = load('c1-1000');
  if (!small || !large) {
    return [];
  }
  const ratio = (a: number | null, b: number | null) => (a === null || !b ? null : a / b);
  return [
    evaluate(
      { label: 'c1: CPU per turn at 1,000 turns <= 2x at 10', op: '<=', value: 2 },
      ratio(large.cpuMsPerRequest, small.cpuMsPerRequest),
    ),
    evaluate(
      { label: 'c1: p50 latency at 1,000 turns <= 2x at 10', op: '<=', value: 2 },
      ratio(large.p50, small.p50),
    ),
  ];
}

// ---- formatting ------------------------------------------------------------------------

const fmt = (value: number | null | undefined, digits = 2, suffix = '') =>
  value === null || value === undefined || !Number.isFinite(value)
    ? '-'
    : `${value.toFixed(digits)}${suffix}`;
const signed = (value: number | null | undefined, digits = 2) =>
  value === null || value === undefined ? '-' : `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;
const mb = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? '-' : `${(bytes / 2 ** 20).toFixed(0)}`;

const LOAD_HEADER = [
  'target',
  'req/s',
  'x direct',
  'x floor',
  'p50 ms',
  'p50 added',
  'p99 ms',
  'p99 added',
  '1st event p50',
  '1st event added',
  'errors',
  'non-2xx',
  'CPU ms/req',
  'CPU x floor',
];

function loadRows(result: LoadModeResult): string[][] {
  return TARGETS.map((target) => {
    const a = result.aggregate[target];
    if (!a) {
      return [target, `unavailable: ${result.unavailable[target] ?? 'not run'}`];
    }
    return [
      target,
      fmt(a.rps, 0),
      fmt(a.xDirect, 2),
      fmt(a.xFloor, 2),
      fmt(a.p50, 2),
      target === 'direct' ? '' : signed(a.p50Added),
      fmt(a.p99, 2),
      target === 'direct' ? '' : signed(a.p99Added),
      fmt(a.firstEventP50, 2),
      target === 'direct' ? '' : signed(a.firstEventAdded),
      String(a.errors + a.badStreams),
      String(a.non2xx),
      target === 'direct' ? '' : fmt(a.cpuMsPerRequest, 3),
      target === 'direct' ? '' : fmt(a.cpuXFloor, 1),
    ];
  });
}

const MEMORY_HEADER = [
  'target',
  'streams',
  'completed',
  'dropped',
  'stalled',
  'open at once',
  '1st event p50',
  '1st event p99',
  'max gap ms',
  'RSS before MB',
  'RSS peak MB',
  'RSS after MB',
];

function memoryRows(result: MemoryModeResult): string[][] {
  return TARGETS.map((target) => {
    const r = result.results[target];
    if (!r) {
      return [target, `unavailable: ${result.unavailable[target] ?? 'not run'}`];
    }
    return [
      target,
      String(r.streams),
      String(r.completed),
      String(r.dropped),
      String(r.stalled),
      String(r.peakOpen),
      fmt(r.firstEvent?.p50, 1),
      fmt(r.firstEvent?.p99, 1),
      fmt(r.maxGapMs, 0),
      target === 'direct' ? '' : mb(r.rssBeforeBytes),
      target === 'direct' ? '' : mb(r.rssPeakBytes),
      target === 'direct' ? '' : mb(r.rssAfterBytes),
    ];
  });
}

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 || cells.length < header.length ? c.padEnd(widths[i]) : c.padStart(widths[i]),
      )
      .join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  const full = rows.map((r) =>
    r.length < header.length ? [...r, ...header.slice(r.length).map(() => '')] : r,
  );
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...full.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const mark = (passed: boolean | null) => (passed === null ? '?' : passed ? 'ok' : 'MISSED');

function checkLines(checks: CheckOutcome[]): string[] {
  return checks.map((c) => `  [${mark(c.passed)}] ${c.label}: ${fmt(c.value, 3)}`);
}

export function formatModeText(result: ModeResult): string {
  const lines = [`== ${result.name}: ${result.title}`];
  if (result.kind === 'load') {
    if (result.setup) {
      lines.push(`  setup (not measured): ${result.setup} in ${fmt(result.setupSeconds, 1)} s`);
    }
    lines.push(textTable(LOAD_HEADER, loadRows(result)));
  } else {
    lines.push(textTable(MEMORY_HEADER, memoryRows(result)));
  }
  lines.push(...result.notes.map((n) => `  note: ${n}`));
  lines.push(...checkLines(result.checks));
  return lines.join('\n');
}

export interface RunInfo {
  date: string;
  machine: string;
  node: string;
  settings: string;
  loadAverage: string;
}

export function formatMarkdown(
  info: RunInfo,
  results: ModeResult[],
  cross: CheckOutcome[],
): string {
  const parts = [
    `Measured ${info.date} on ${info.machine}, Node ${info.node}. ${info.settings}`,
    `Load average when the run started: ${info.loadAverage}.`,
    '',
  ];
  for (const result of results) {
    parts.push(`#### ${result.name}: ${result.title}`, '');
    if (result.kind === 'load') {
      parts.push(markdownTable(LOAD_HEADER, loadRows(result)));
    } else {
      parts.push(markdownTable(MEMORY_HEADER, memoryRows(result)));
    }
    parts.push('');
    for (const c of result.checks) {
      parts.push(
        `- ${c.passed === null ? '?' : c.passed ? '✅' : '❌'} ${c.label}: ${fmt(c.value, 3)}`,
      );
    }
    for (const n of result.notes) {
      parts.push(`- note: ${n}`);
    }
    parts.push('');
  }
  if (cross.length > 0) {
    parts.push('#### Across modes', '');
    for (const c of cross) {
      parts.push(
        `- ${c.passed === null ? '?' : c.passed ? '✅' : '❌'} ${c.label}: ${fmt(c.value, 2)}`,
      );
    }
    parts.push('');
  }
  return parts.join('\n');
}

export function formatCrossText(cross: CheckOutcome[]): string {
  return cross.length ? ['== across modes', ...checkLines(cross)].join('\n') : '';
}
