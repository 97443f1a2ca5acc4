import {
  ExpositionError,
  parsePrometheusText,
  Sample,
} from 'src/modules/fleet/load/prometheus-text';

/** An upstream's load as last read; null where the server does not publish the figure. */
export interface LoadFigures {
  running: number | null;
  waiting: number | null;
  /** KV-cache use, 0..1. */
  kvCacheUsage: number | null;
  /** Prefix-cache hits / queries since the previous reading (cumulative on the first), 0..1. */
  prefixCacheHitRate: number | null;
  /** Median time to first token since the previous reading (cumulative on the first). */
  ttftP50Ms: number | null;
}

/** Cumulative counters kept between two readings, to turn them into rates of the interval. */
export interface CounterMemory {
  prefixHits: number;
  prefixQueries: number;
  /** Cumulative TTFT histogram: upper bounds (seconds) and counts. */
  ttftBuckets: { le: number; count: number }[];
}

/** Figures above this are not believed (a queue of a million requests is a lie or a bug). */
const MAX_QUEUE = 1_000_000;

const RUNNING = 'vllm:num_requests_running';
const WAITING = 'vllm:num_requests_waiting';
const KV = 'vllm:kv_cache_usage_perc';
/** The name of KV-cache use before vLLM 0.10 (V0 engine). */
const KV_OLD = 'vllm:gpu_cache_usage_perc';
const PREFIX_HITS = ['vllm:prefix_cache_hits_total', 'vllm:prefix_cache_hits'];
const PREFIX_QUERIES = ['vllm:prefix_cache_queries_total', 'vllm:prefix_cache_queries'];
/** V0 engines publish the hit rate as a gauge instead of counters. */
const PREFIX_RATE_OLD = 'vllm:gpu_prefix_cache_hit_rate';
const TTFT_BUCKET = 'vllm:time_to_first_token_seconds_bucket';

const WANTED = new Set([
  RUNNING,
  WAITING,
  KV,
  KV_OLD,
  ...PREFIX_HITS,
  ...PREFIX_QUERIES,
  PREFIX_RATE_OLD,
  TTFT_BUCKET,
]);

/** The reading is unusable: garbage, NaN, negative, out of range or missing figures. */
export class LoadReadError extends Error {}

/**
 * Reads vLLM's Prometheus `/metrics` (names from vLLM's production metrics: both the V1 names
 * and the older `gpu_*` ones). Several `model_name` series (one server, several models) are
 * summed for queues and counters; KV-cache use is the highest. Throws `LoadReadError` unless
 * both queue gauges are present and every figure read is a finite number in range.
 */
export function readVllmMetrics(
  text: string,
  previous: CounterMemory | null,
): { figures: LoadFigures; memory: CounterMemory } {
  let samples: Map<string, Sample[]>;
  try {
    samples = parsePrometheusText(text, (name) => WANTED.has(name));
  } catch (error) {
    throw new LoadReadError(
      error instanceof ExpositionError ? error.message : 'not Prometheus text',
    );
  }
  const running = sumOf(samples.get(RUNNING), RUNNING, MAX_QUEUE);
  const waiting = sumOf(samples.get(WAITING), WAITING, MAX_QUEUE);
  if (running === null || waiting === null) {
    throw new LoadReadError(`no ${RUNNING} / ${WAITING} in the metrics`);
  }
  const kvSamples = samples.get(KV) ?? samples.get(KV_OLD);
  const kvCacheUsage = kvSamples ? maxOf(kvSamples, KV, 1) : null;

  const hits = firstSum(samples, PREFIX_HITS);
  const queries = firstSum(samples, PREFIX_QUERIES);
  let prefixCacheHitRate: number | null = null;
  if (hits !== null && queries !== null) {
    if (hits > queries) {
      throw new LoadReadError('prefix cache hits exceed queries');
    }
    const isNewInterval =
      previous !== null && queries > previous.prefixQueries && hits >= previous.prefixHits;
    const dq = isNewInterval ? queries - previous.prefixQueries : queries;
    const dh = isNewInterval ? hits - previous.prefixHits : hits;
    prefixCacheHitRate = dq > 0 ? Math.min(1, dh / dq) : null;
  } else if (samples.has(PREFIX_RATE_OLD)) {
    prefixCacheHitRate = maxOf(samples.get(PREFIX_RATE_OLD)!, PREFIX_RATE_OLD, 1);
  }

  const buckets = histogramOf(samples.get(TTFT_BUCKET));
  const ttftP50Ms = buckets ? medianMs(buckets, previous?.ttftBuckets ?? null) : null;
  return {
    figures: { running, waiting, kvCacheUsage, prefixCacheHitRate, ttftP50Ms },
    memory: {
      prefixHits: hits ?? 0,
      prefixQueries: queries ?? 0,
      ttftBuckets: buckets ?? [],
    },
  };
}

/**
 * Reads Ollama's `GET /api/ps` (the models loaded in memory). Ollama publishes no queue, so
 * only reachability comes out of it: every figure is null and the picker treats the upstream
 * as one without figures.
 */
export function readOllamaPs(text: string): LoadFigures {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new LoadReadError('/api/ps is not JSON');
  }
  if (
    typeof doc !== 'object' ||
    doc === null ||
    !Array.isArray((doc as { models?: unknown }).models)
  ) {
    throw new LoadReadError('/api/ps has no models list');
  }
  return {
    running: null,
    waiting: null,
    kvCacheUsage: null,
    prefixCacheHitRate: null,
    ttftP50Ms: null,
  };
}

function checked(value: number, name: string, max: number): number {
  if (!Number.isFinite(value) || value < 0 || value > max) {
    throw new LoadReadError(`${name} is ${value}, not a number in 0..${max}`);
  }
  return value;
}

function sumOf(list: Sample[] | undefined, name: string, max: number): number | null {
  if (!list || list.length === 0) {
    return null;
  }
  return checked(
    list.reduce((sum, s) => sum + checked(s.value, name, max), 0),
    name,
    max,
  );
}

function maxOf(list: Sample[], name: string, max: number): number {
  return list.reduce((m, s) => Math.max(m, checked(s.value, name, max)), 0);
}

function firstSum(samples: Map<string, Sample[]>, names: string[]): number | null {
  for (const name of names) {
    const sum = sumOf(samples.get(name), name, Number.MAX_SAFE_INTEGER);
    if (sum !== null) {
      return sum;
    }
  }
  return null;
}

/** Cumulative bucket counts by upper bound, summed over series, sorted; null without buckets. */
function histogramOf(list: Sample[] | undefined): { le: number; count: number }[] | null {
  if (!list || list.length === 0) {
    return null;
  }
  const byBound = new Map<number, number>();
  for (const sample of list) {
    const raw = sample.labels.le;
    const le = raw === '+Inf' ? Infinity : Number(raw);
    if (raw === undefined || Number.isNaN(le)) {
      throw new LoadReadError(`${TTFT_BUCKET} has a bucket without a valid le`);
    }
    const count = checked(sample.value, TTFT_BUCKET, Number.MAX_SAFE_INTEGER);
    byBound.set(le, (byBound.get(le) ?? 0) + count);
  }
  const buckets = [...byBound].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  for (let i = 1; i < buckets.length; i++) {
    if (buckets[i].count < buckets[i - 1].count) {
      throw new LoadReadError(`${TTFT_BUCKET} is not cumulative`);
    }
  }
  return buckets;
}

/**
 * The median from cumulative buckets, interpolated linearly inside its bucket (as PromQL's
 * `histogram_quantile`), over the requests since `previous` when there were any, else over all.
 */
function medianMs(
  buckets: { le: number; count: number }[],
  previous: { le: number; count: number }[] | null,
): number | null {
  let counts = buckets.map((b) => b.count);
  if (previous && previous.length === buckets.length) {
    const delta = buckets.map((b, i) =>
      previous[i].le === b.le ? b.count - previous[i].count : -1,
    );
    if (delta.every((d) => d >= 0) && delta[delta.length - 1] > 0) {
      counts = delta;
    }
  }
  const total = counts[counts.length - 1];
  if (total <= 0) {
    return null;
  }
  const rank = total / 2;
  for (let i = 0; i < buckets.length; i++) {
    if (counts[i] >= rank) {
      const upper = buckets[i].le;
      const lower = i === 0 ? 0 : buckets[i - 1].le;
      if (!Number.isFinite(upper)) {
        return Math.round(lower * 1000);
      }
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
      return Math.round((lower + (upper - lower) * fraction) * 1000 * 100) / 100;
    }
  }
  return null;
}

/**
 * The ORCA load report vLLM adds to a response when the request asked for one
 * (`endpoint-load-metrics-format: text`): `TEXT named_metrics.kv_cache_usage_perc=0.4,
 * named_metrics.num_requests_waiting=2.0` (or `JSON {"named_metrics": {…}}`). Returns the
 * figures it carries, or null when it carries none or any is out of range.
 */
export function readLoadReportHeader(
  value: string,
): { waiting: number | null; kvCacheUsage: number | null } | null {
  let named: Record<string, unknown>;
  if (value.startsWith('TEXT ')) {
    named = {};
    for (const part of value.slice(5).split(',')) {
      const [key, raw] = part.trim().split('=');
      if (key?.startsWith('named_metrics.') && raw !== undefined && raw.trim() !== '') {
        named[key.slice('named_metrics.'.length)] = Number(raw);
      }
    }
  } else if (value.startsWith('JSON ')) {
    try {
      const doc = JSON.parse(value.slice(5)) as { named_metrics?: unknown };
      if (typeof doc?.named_metrics !== 'object' || doc.named_metrics === null) {
        return null;
      }
      named = doc.named_metrics as Record<string, unknown>;
    } catch {
      return null;
    }
  } else {
    return null;
  }
  const figure = (key: string, max: number): number | null | undefined => {
    const v = named[key];
    if (v === undefined) {
      return null;
    }
    return typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max ? v : undefined;
  };
  const waiting = figure('num_requests_waiting', MAX_QUEUE);
  const kvCacheUsage = figure('kv_cache_usage_perc', 1);
  if (waiting === undefined || kvCacheUsage === undefined) {
    return null;
  }
  if (waiting === null && kvCacheUsage === null) {
    return null;
  }
  return { waiting, kvCacheUsage };
}
