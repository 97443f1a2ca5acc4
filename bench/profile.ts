/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and says where the gateway's CPU
 * went during the measured window: top functions by self time, Parley's own functions by
 * inclusive time, and self time by package.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  package: string;
  ms: number;
  share: number;
  /** For self-time entries: the nearest callers outside node internals, with their share. */
  callers?: { caller: string; share: number }[];
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  idleMs: number;
  selfTop: ProfileEntry[];
  parleyInclusiveTop: ProfileEntry[];
  byPackage: { package: string; ms: number; share: number }[];
}

/** Which package a frame belongs to: `parley` for dist/ (our code), a node_modules name, … */
function packageOf(frame: CallFrame, root: string): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) {
    if (/^\((garbage collector|program|idle|root)\)$/.test(frame.functionName)) {
      return frame.functionName;
    }
    return '(native/V8)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) {
    return `node:${url.slice(5).split('/')[0]}`;
  }
  if (url.startsWith(root)) {
    return url.includes('/dist/') ? 'parley' : 'bench';
  }
  return url;
}

/** `dist/modules/x.js:12` shown as `src/modules/x.ts` (line of the compiled file). */
function whereOf(frame: CallFrame, root: string): string {
  let url = frame.url.replace(/^file:\/\//, '');
  if (!url) {
    return '';
  }
  if (url.startsWith(root)) {
    url = url.slice(root.length + 1);
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    url = url.slice(nm + 'node_modules/'.length);
  }
  return `${url}:${frame.lineNumber + 1}`;
}

/**
 * Summarises samples taken between `fromUs` and `toUs` (CLOCK_MONOTONIC microseconds, the
 * clock of both `process.hrtime` and V8's profiler), or the whole profile when omitted.
 */
export function summariseProfile(
  file: string,
  root: string,
  window?: { fromUs: number; toUs: number },
  top = 25,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) {
      parent.set(child, node.id);
    }
  }
  const self = new Map<number, number>();
  let time = profile.startTime;
  let windowMs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const weight = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    if (window && (time < window.fromUs || time > window.toUs)) {
      continue;
    }
    windowMs += weight;
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + weight);
  }

  const key = (f: CallFrame) => `${f.functionName || '(anonymous)'}\u0000${f.url}:${f.lineNumber}`;
  const selfByFunction = new Map<
    string,
    { frame: CallFrame; ms: number; callers: Map<string, number> }
  >();
  const inclusive = new Map<string, { frame: CallFrame; ms: number }>();
  /** The first frame up the stack that is neither native nor node:internal. */
  const callerOf = (nodeId: number): string => {
    for (let id = parent.get(nodeId); id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      const pkg = packageOf(frame, root);
      if (pkg !== '(native/V8)' && !pkg.startsWith('node:') && !pkg.startsWith('(')) {
        return `${frame.functionName || '(anonymous)'} ${whereOf(frame, root)}`;
      }
    }
    return '(none)';
  };
  const byPackage = new Map<string, number>();
  let idleMs = 0;
  for (const [nodeId, ms] of self) {
    const node = byId.get(nodeId)!;
    const pkg = packageOf(node.callFrame, root);
    if (pkg === '(idle)') {
      idleMs += ms;
      continue;
    }
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const k = key(node.callFrame);
    const entry = selfByFunction.get(k) ?? { frame: node.callFrame, ms: 0, callers: new Map() };
    entry.ms += ms;
    const caller = callerOf(nodeId);
    entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + ms);
    selfByFunction.set(k, entry);
    // Inclusive time of Parley's own functions: each function once per stack.
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (packageOf(frame, root) !== 'parley') {
        continue;
      }
      const fk = key(frame);
      if (seen.has(fk)) {
        continue;
      }
      seen.add(fk);
      const inc = inclusive.get(fk) ?? { frame, ms: 0 };
      inc.ms += ms;
      inclusive.set(fk, inc);
    }
  }
  const busyMs = windowMs - idleMs;
  const entries = (
    map: Map<string, { frame: CallFrame; ms: number; callers?: Map<string, number> }>,
  ) =>
    [...map.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map(({ frame, ms, callers }) => ({
        name: frame.functionName || '(anonymous)',
        where: whereOf(frame, root),
        package: packageOf(frame, root),
        ms,
        share: busyMs > 0 ? ms / busyMs : 0,
        ...(callers
          ? {
              callers: [...callers.entries()]
                .sort((a, b) => b[1] - a[1])
                .slice(0, 3)
                .map(([caller, callerMs]) => ({ caller, share: callerMs / ms })),
            }
          : {}),
      }));
  return {
    windowMs,
    busyMs,
    idleMs,
    selfTop: entries(selfByFunction),
    parleyInclusiveTop: entries(inclusive),
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([pkg, ms]) => ({ package: pkg, ms, share: busyMs > 0 ? ms / busyMs : 0 })),
  };
}

export function formatProfile(summary: ProfileSummary, requests: number | null): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);
  const lines = [
    `window ${summary.windowMs.toFixed(0)} ms, busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms` +
      (requests
        ? `, ${requests} requests → ${(summary.busyMs / requests).toFixed(3)} ms CPU/request (sampled)`
        : ''),
    '',
    'Self time by package (share of busy time):',
    ...summary.byPackage
      .slice(0, 20)
      .map((p) => `  ${pct(p.share)}  ${p.ms.toFixed(0).padStart(7)} ms  ${p.package}`),
    '',
    'Top functions by self time (and the nearest JavaScript callers outside node internals):',
    ...summary.selfTop.flatMap((e) => [
      `  ${pct(e.share)}  ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}  ${e.where}`,
      ...(e.callers ?? [])
        .filter((c) => c.share >= 0.1 && e.share >= 0.01)
        .map((c) => `                          ← ${(c.share * 100).toFixed(0)}% ${c.caller}`),
    ]),
    '',
    "Parley's own functions by inclusive time (callees included):",
    ...summary.parleyInclusiveTop.map(
      (e) => `  ${pct(e.share)}  ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}  ${e.where}`,
    ),
  ];
  return lines.join('\n');
}
