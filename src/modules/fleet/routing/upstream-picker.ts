import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { bindToRequestLine, RequestLog } from 'src/common/logging/request-log';
import { Counter } from 'prom-client';
import { redactUrl } from 'src/common/logging/upstream-failure';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { readLoadReportHeader } from 'src/modules/fleet/load/load-figures';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { AffinityMemory } from 'src/modules/fleet/routing/affinity-memory';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { CatalogUpstream } from 'src/kernel/catalog-model';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';

/** How long a refused upstream is skipped (unless all are down). */
const DOWN_BACKOFF_MS = 5_000;
/** Conversations whose home is remembered (about 150 bytes each). */
const AFFINITY_CAPACITY = 100_000;
/** KV-cache use is compared in steps of this much: 41 % and 43 % are the same load. */
const KV_STEP = 0.05;

/** Asks vLLM for its ORCA load report on each response (SPEC "Fleet"). */
export const LOAD_REPORT_REQUEST = { 'endpoint-load-metrics-format': 'text' } as const;
const LOAD_REPORT_HEADER = 'endpoint-load-metrics';

/**
 * Why an upstream was chosen (the `reason` label of `parley_upstream_picks_total`):
 * `least_loaded` — lowest waiting queue, then KV-cache use, then Parley's own in-flight count,
 *   by fresh figures (a request without conversation, or a conversation's first turn);
 * `affinity` — the conversation stayed on its home upstream;
 * `affinity_overflow` — its home's queue exceeds the least loaded one's by more than
 *   FLEET_AFFINITY_QUEUE_MARGIN: this turn goes to the least loaded, the home is kept;
 * `affinity_unhealthy` — its home refused connections lately (or failed this request's first
 *   attempt): this turn goes elsewhere, the home is kept;
 * `no_figures` — some upstream of the alias has no fresh figures: the balancing of old
 *   (least in flight, round robin or the conversation's hash among equals).
 */
export type PickReason =
  'least_loaded' | 'affinity' | 'affinity_overflow' | 'affinity_unhealthy' | 'no_figures';

/** What the upstream client knows of each upstream of an alias. */
export interface PickCandidate {
  readonly upstream: CatalogUpstream;
  /** Parley's own requests in flight to it. */
  readonly inFlight: number;
}

export interface PickRequest {
  /** The conversation id on /c1: its turns stay on one upstream (prefix cache). */
  affinityKey?: string;
  /** The request's logger: its `request` line gets the choice as `upstream` and `pick`. */
  log?: RequestLog;
}

interface Load {
  waiting: number;
  kvStep: number;
}

/**
 * The picking policy among the upstreams of one alias (SPEC "Fleet"), consulted by the upstream
 * client for every attempt, and fed by the load report header of each answer. See
 * docs/notes/fleet.md for the order of preferences.
 */
@Injectable()
export class UpstreamPicker {
  private readonly affinity = new AffinityMemory(AFFINITY_CAPACITY);
  private readonly margin: number;
  private readonly picks: Counter<'model' | 'reason'>;
  private readonly counters = new Map<string, { inc(): void }>();
  private readonly shownUrls = new WeakMap<CatalogUpstream, string>();
  private roundRobin = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly book: UpstreamLoadBook,
    private readonly health: UpstreamHealthBook,
    metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.margin = config.fleet.affinityQueueMargin;
    this.picks = new Counter({
      name: 'parley_upstream_picks_total',
      help: 'Upstream choices among the several upstreams of an alias, by model and reason',
      labelNames: ['model', 'reason'] as const,
      registers: [metrics.registry],
    });
  }

  /**
   * Chooses the upstream for one attempt. `exclude` is the upstream whose connection just
   * failed (the retry goes elsewhere when there is another). Never throws.
   */
  pick<T extends PickCandidate>(
    alias: string,
    candidates: readonly T[],
    exclude: T | null,
    request: PickRequest,
  ): T {
    const n = candidates.length;
    if (n === 1) {
      return candidates[0];
    }
    const now = this.clock();
    const key = request.affinityKey;
    const homeId = key === undefined ? undefined : this.affinity.homeOf(key);
    const loads = this.loadsOf(candidates, now);
    let chosen: T;
    let reason: PickReason;
    if (!loads) {
      chosen = this.balanceByInFlight(candidates, exclude, key, homeId);
      reason = 'no_figures';
    } else {
      const start = key === undefined ? this.roundRobin++ % n : hashString(key) % n;
      const least = this.leastLoaded(candidates, loads, exclude, start);
      const home =
        homeId === undefined ? -1 : candidates.findIndex((c) => c.upstream.id === homeId);
      if (least === -1) {
        chosen = this.balanceByInFlight(candidates, exclude, key, homeId);
        reason = 'no_figures';
      } else if (key === undefined) {
        chosen = candidates[least];
        reason = 'least_loaded';
      } else if (home === -1) {
        chosen = candidates[least];
        reason = 'least_loaded';
        this.affinity.remember(key, chosen.upstream.id);
      } else if (!this.isUsable(candidates[home], exclude)) {
        chosen = candidates[least];
        reason = 'affinity_unhealthy';
      } else if (loads[home].waiting > loads[least].waiting + this.margin) {
        chosen = candidates[least];
        reason = 'affinity_overflow';
      } else {
        chosen = candidates[home];
        reason = 'affinity';
      }
    }
    this.counterFor(alias, reason).inc();
    // On the request's own log line (and any later line of the request) rather than a line of
    // its own: a pino line costs several times the pick (bench/fleet-cost.ts).
    // A retry binds again: JSON readers keep the last `upstream`, the one that answered.
    if (request.log) {
      bindToRequestLine(request.log, { upstream: this.shownUrl(chosen.upstream), pick: reason });
    }
    return chosen;
  }

  /**
   * Reads vLLM's load report from an answer's headers, if the upstream sent one: the figures
   * it carries refresh that upstream's load at no extra request.
   */
  observeAnswer(
    upstream: CatalogUpstream,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    const value = headers[LOAD_REPORT_HEADER];
    if (typeof value !== 'string') {
      return;
    }
    const figures = readLoadReportHeader(value);
    if (figures) {
      this.book.refresh(upstream.id, figures, this.clock());
    }
  }

  /** Fresh loads of every candidate, or null when any lacks them (then nothing is compared). */
  private loadsOf(candidates: readonly PickCandidate[], now: number): Load[] | null {
    const loads: Load[] = [];
    for (const candidate of candidates) {
      const load = this.book.fresh(candidate.upstream.id, now);
      if (!load) {
        return null;
      }
      loads.push({ waiting: load.waiting, kvStep: Math.floor(load.kvCacheUsage / KV_STEP + 1e-9) });
    }
    return loads;
  }

  /** Index of the least loaded usable candidate (ties: the first from `start`), or -1. */
  private leastLoaded(
    candidates: readonly PickCandidate[],
    loads: Load[],
    exclude: PickCandidate | null,
    start: number,
  ): number {
    const n = candidates.length;
    let best = -1;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (!this.isUsable(candidates[i], exclude)) {
        continue;
      }
      if (best === -1 || compare(loads[i], candidates[i], loads[best], candidates[best]) < 0) {
        best = i;
      }
    }
    return best;
  }

  private isUsable(candidate: PickCandidate, exclude: PickCandidate | null): boolean {
    return (
      candidate !== exclude && !this.health.isRecentlyDown(candidate.upstream.id, DOWN_BACKOFF_MS)
    );
  }

  /**
   * The balancing used without figures: least in flight first; among equals, round robin (or
   * the conversation's home: its remembered upstream, else its hash); a target refused in the
   * last few seconds only when every other is too; never `exclude` when another exists.
   */
  private balanceByInFlight<T extends PickCandidate>(
    candidates: readonly T[],
    exclude: T | null,
    key: string | undefined,
    homeId: string | undefined,
  ): T {
    const n = candidates.length;
    let start: number;
    if (key === undefined) {
      start = this.roundRobin++ % n;
    } else {
      const home =
        homeId === undefined ? -1 : candidates.findIndex((c) => c.upstream.id === homeId);
      start = home === -1 ? hashString(key) % n : home;
    }
    let best: T | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const target = candidates[(start + k) % n];
      if (target === exclude) {
        continue;
      }
      let score = key !== undefined && k === 0 ? -1 : target.inFlight;
      if (this.health.isRecentlyDown(target.upstream.id, DOWN_BACKOFF_MS)) {
        score += 1e9;
      }
      if (score < bestScore) {
        best = target;
        bestScore = score;
      }
    }
    return best ?? candidates[start];
  }

  /** The upstream's URL as logs show it (never credentials), computed once per upstream. */
  private shownUrl(upstream: CatalogUpstream): string {
    let shown = this.shownUrls.get(upstream);
    if (shown === undefined) {
      shown = redactUrl(upstream.url);
      this.shownUrls.set(upstream, shown);
    }
    return shown;
  }

  private counterFor(alias: string, reason: PickReason): { inc(): void } {
    const id = `${alias}\u0000${reason}`;
    let counter = this.counters.get(id);
    if (!counter) {
      counter = this.picks.labels(alias, reason);
      this.counters.set(id, counter);
    }
    return counter;
  }
}

function compare(a: Load, ca: PickCandidate, b: Load, cb: PickCandidate): number {
  return a.waiting - b.waiting || a.kvStep - b.kvStep || ca.inFlight - cb.inFlight;
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  }
  return h >>> 0;
}
