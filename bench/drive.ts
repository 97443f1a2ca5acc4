/**
 * The load drivers: autocannon for throughput and latency, a small undici client for what
 * autocannon cannot see (time to the first SSE `data:` event, streams that end without
 * `[DONE]`), and the slow-stream holder of the memory run.
 */
import { performance } from 'node:perf_hooks';
import autocannon, { AutocannonRequest } from 'autocannon';
import { Pool } from 'undici';
import { cpuMs, rssBytes } from './processes';
import { LatencySummary, Samples } from './stats';

export interface RequestSpec {
  method: 'POST' | 'GET';
  path: string;
  headers: Record<string, string>;
  body: string;
  /** An SSE answer is expected. */
  stream: boolean;
  /** What a complete stream contains (default `data: [DONE]`; Responses: its final event). */
  streamEnd?: string;
  /**
   * Extra headers for each request, leased until its answer arrives (a conversation id from a
   * pool, so that no two requests use one conversation at the same time).
   */
  lease?: () => Lease;
}

/** The text a complete stream of `spec` contains. */
export function streamEndOf(spec: RequestSpec): string {
  return spec.streamEnd ?? 'data: [DONE]';
}

export interface Lease {
  headers: Record<string, string>;
  release(): void;
}

export interface LoadResult {
  /** 2xx answers completed in the window. */
  ok: number;
  seconds: number;
  rps: number;
  /** autocannon's own latency (request written → whole answer read), 2xx only, in ms. */
  latency: LatencySummary | null;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** CPU ms each watched process used per answered request (null: not watched or no /proc). */
  cpuMsPerRequest: Record<string, number | null>;
}

/** Runs autocannon for `seconds` and watches the CPU of `watch` (name → pid) meanwhile. */
export async function runLoad(
  origin: string,
  spec: RequestSpec,
  connections: number,
  seconds: number,
  watch: Record<string, number>,
): Promise<LoadResult> {
  const samples = new Samples();
  const statusCodes: Record<string, number> = {};
  let ok = 0;
  let other = 0;
  const before = Object.fromEntries(Object.entries(watch).map(([n, pid]) => [n, cpuMs(pid)]));
  const started = performance.now();
  const instance = autocannon({
    url: origin,
    connections,
    duration: seconds,
    pipelining: 1,
    timeout: 30,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        headers: spec.headers,
        body: spec.body,
        // autocannon gives each request a fresh context, kept until its answer is recorded.
        ...(spec.lease
          ? {
              setupRequest: (request: AutocannonRequest, context: Record<string, unknown>) => {
                const lease = spec.lease!();
                context.release = lease.release;
                return { ...request, headers: { ...spec.headers, ...lease.headers } };
              },
              onResponse: (_status: number, _body: string, context: Record<string, unknown>) => {
                (context.release as (() => void) | undefined)?.();
              },
            }
          : {}),
      },
    ],
  });
  instance.on(
    'response',
    (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        samples.add(responseTime);
      } else {
        other++;
        statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      }
    },
  );
  const result = await instance;
  const elapsed = (performance.now() - started) / 1000;
  const cpuMsPerRequest: Record<string, number | null> = {};
  for (const [name, pid] of Object.entries(watch)) {
    const after = cpuMs(pid);
    const start = before[name];
    cpuMsPerRequest[name] =
      after === null || start === null || ok + other === 0 ? null : (after - start) / (ok + other);
  }
  return {
    ok,
    seconds: elapsed,
    rps: ok / elapsed,
    latency: samples.summary(),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
    cpuMsPerRequest,
  };
}

export interface ProbeResult {
  requests: number;
  /** Request sent → response headers, ms. */
  ttfb: LatencySummary | null;
  /** Request sent → first `data:` event (JSON: → headers), ms. */
  firstEvent: LatencySummary | null;
  /** Request sent → last byte, ms. */
  total: LatencySummary | null;
  non2xx: number;
  errors: number;
  /** Streams that ended without `data: [DONE]`, or carried an error event. */
  badStreams: number;
  firstFailure: string | null;
}

const DATA_EVENT = /(^|\n)data:/;
const ERROR_EVENT = /(^|\n)data: ?\{"error"/;

/** `connections` workers send requests back to back for `seconds`, timing each precisely. */
export async function runProbe(
  origin: string,
  spec: RequestSpec,
  connections: number,
  seconds: number,
): Promise<ProbeResult> {
  const pool = new Pool(origin, { connections, pipelining: 1 });
  const ttfb = new Samples();
  const firstEvent = new Samples();
  const total = new Samples();
  let requests = 0;
  let non2xx = 0;
  let errors = 0;
  let badStreams = 0;
  let firstFailure: string | null = null;
  const until = performance.now() + seconds * 1000;
  const fail = (text: string) => (firstFailure ??= text.slice(0, 500));

  async function one(): Promise<void> {
    requests++;
    const lease = spec.lease?.();
    try {
      await timed(lease ? { ...spec.headers, ...lease.headers } : spec.headers);
    } finally {
      lease?.release();
    }
  }

  async function timed(headers: Record<string, string>): Promise<void> {
    const t0 = performance.now();
    const res = await pool.request({
      method: spec.method,
      path: spec.path,
      headers,
      body: spec.method === 'GET' ? undefined : spec.body,
    });
    const tHeaders = performance.now();
    if (res.statusCode < 200 || res.statusCode >= 300) {
      non2xx++;
      fail(`${res.statusCode} ${await res.body.text()}`);
      return;
    }
    let first: number | null = spec.stream ? null : tHeaders;
    let text = '';
    for await (const chunk of res.body) {
      if (spec.stream) {
        text += (chunk as Buffer).toString('utf8');
        if (first === null && DATA_EVENT.test(text)) {
          first = performance.now();
        }
      }
    }
    const end = performance.now();
    if (spec.stream && (!text.includes(streamEndOf(spec)) || ERROR_EVENT.test(text))) {
      badStreams++;
      fail(`stream without [DONE] or with an error event: ${text.slice(-300)}`);
      return;
    }
    ttfb.add(tHeaders - t0);
    firstEvent.add((first ?? end) - t0);
    total.add(end - t0);
  }

  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        try {
          await one();
        } catch (error) {
          errors++;
          fail(String(error));
        }
      }
    }),
  );
  await pool.close();
  return {
    requests,
    ttfb: ttfb.summary(),
    firstEvent: firstEvent.summary(),
    total: total.summary(),
    non2xx,
    errors,
    badStreams,
    firstFailure,
  };
}

export interface SlowStreamsResult {
  streams: number;
  completed: number;
  /** Streams that ended without [DONE], with an error event, a non-2xx or a socket error. */
  dropped: number;
  /** Streams with a silence longer than `stallMs` between two chunks (headers included). */
  stalled: number;
  /** Most streams open (headers received, not finished) at the same moment. */
  peakOpen: number;
  firstEvent: LatencySummary | null;
  maxGapMs: number;
  seconds: number;
  rssBeforeBytes: number | null;
  rssPeakBytes: number | null;
  rssAfterBytes: number | null;
  cpuMs: number | null;
  firstFailure: string | null;
}

/**
 * Opens `count` streams at once and holds them until they end, sampling the gateway's RSS
 * every 50 ms. The streams are slow (the upstream paces them), so they are all open together.
 */
export async function runSlowStreams(
  origin: string,
  spec: RequestSpec,
  count: number,
  stallMs: number,
  pid: number | null,
): Promise<SlowStreamsResult> {
  const pool = new Pool(origin, { connections: count, pipelining: 1 });
  const firstEvent = new Samples();
  let completed = 0;
  let dropped = 0;
  let stalled = 0;
  let open = 0;
  let peakOpen = 0;
  let maxGapMs = 0;
  let firstFailure: string | null = null;
  const rssBefore = pid ? rssBytes(pid) : null;
  const cpuBefore = pid ? cpuMs(pid) : null;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    const rss = pid ? rssBytes(pid) : null;
    if (rss !== null && (rssPeak === null || rss > rssPeak)) {
      rssPeak = rss;
    }
  }, 50);
  const started = performance.now();

  async function one(): Promise<void> {
    const t0 = performance.now();
    let res;
    try {
      res = await pool.request({
        method: spec.method,
        path: spec.path,
        headers: spec.headers,
        body: spec.body,
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
    } catch (error) {
      dropped++;
      firstFailure ??= String(error);
      return;
    }
    if (res.statusCode !== 200) {
      dropped++;
      firstFailure ??= `${res.statusCode} ${await res.body.text()}`;
      return;
    }
    open++;
    peakOpen = Math.max(peakOpen, open);
    let last = performance.now();
    let gap = 0;
    let first: number | null = null;
    let text = '';
    try {
      for await (const chunk of res.body) {
        const now = performance.now();
        gap = Math.max(gap, now - last);
        last = now;
        text += (chunk as Buffer).toString('utf8');
        if (first === null && DATA_EVENT.test(text)) {
          first = now;
          firstEvent.add(now - t0);
        }
      }
    } catch (error) {
      firstFailure ??= String(error);
    } finally {
      open--;
    }
    maxGapMs = Math.max(maxGapMs, gap);
    if (gap > stallMs) {
      stalled++;
    }
    if (!text.includes('data: [DONE]') || ERROR_EVENT.test(text)) {
      dropped++;
      firstFailure ??= `stream without [DONE] or with an error event: ${text.slice(-300)}`;
      return;
    }
    completed++;
  }

  await Promise.all(Array.from({ length: count }, () => one()));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  await pool.close();
  const cpuAfter = pid ? cpuMs(pid) : null;
  return {
    streams: count,
    completed,
    dropped,
    stalled,
    peakOpen,
    firstEvent: firstEvent.summary(),
    maxGapMs,
    seconds,
    rssBeforeBytes: rssBefore,
    rssPeakBytes: rssPeak,
    rssAfterBytes: pid ? rssBytes(pid) : null,
    cpuMs: cpuAfter !== null && cpuBefore !== null ? cpuAfter - cpuBefore : null,
    firstFailure,
  };
}

/** One request, for preflight checks and seeding; returns status, headers and body text. */
export async function sendOnce(
  origin: string,
  spec: Pick<RequestSpec, 'method' | 'path' | 'headers'> & { body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const pool = oneShotPools.get(origin) ?? new Pool(origin, { connections: 4 });
  oneShotPools.set(origin, pool);
  const res = await pool.request({
    method: spec.method,
    path: spec.path,
    headers: spec.headers,
    body: spec.body,
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}
const oneShotPools = new Map<string, Pool>();

export async function closeOneShotPools(): Promise<void> {
  await Promise.all([...oneShotPools.values()].map((p) => p.close()));
  oneShotPools.clear();
}
