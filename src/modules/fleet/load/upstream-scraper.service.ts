import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import {
  CounterMemory,
  LoadFigures,
  LoadReadError,
  readOllamaPs,
  readVllmMetrics,
} from 'src/modules/fleet/load/load-figures';
import { MetricsFetcher, MetricsFetchError } from 'src/modules/fleet/load/metrics-fetcher';
import { MetricsTarget, metricsTargetOf } from 'src/modules/fleet/load/metrics-target';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { ModelCatalog } from 'src/modules/models/model-catalog';

/** Longest wait for one metrics answer; a hanging endpoint costs one open request, no more. */
const SCRAPE_TIMEOUT_MS = 2_000;
/** vLLM's exposition is tens of KB; megabytes mean something else answers there. */
const MAX_METRICS_BYTES = 4 * 1024 * 1024;
/** After n failures in a row the next reading waits 2^(n-1) intervals, at most this many. */
const MAX_BACKOFF_INTERVALS = 16;

interface ScrapeState {
  target: MetricsTarget;
  /** Every upstream (of any alias) read through this URL. */
  upstreamIds: string[];
  nextAt: number;
  failures: number;
  isRunning: boolean;
  memory: CounterMemory | null;
}

/**
 * Reads every upstream's load each FLEET_SCRAPE_SECS (SPEC "Fleet") into the load book. One
 * reading per distinct metrics URL, never two at once for the same URL, with a timeout and an
 * exponential per-URL backoff after failures. A failed or unbelievable reading (garbage, NaN,
 * negative) changes only `lastError`: the figures keep their `scrapedAt` and go stale.
 */
@Injectable()
export class UpstreamScraperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('fleet');
  private readonly states: ScrapeState[] = [];
  private readonly intervalMs: number;
  /** `tick` only starts readings (each handles its own failure), so it never throws. */
  private readonly ticks: PeriodicTask;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    catalog: ModelCatalog,
    private readonly book: UpstreamLoadBook,
    private readonly fetcher: MetricsFetcher,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.intervalMs = config.fleet.scrapeIntervalMs;
    this.ticks = new PeriodicTask(() => this.tick(), {
      everyMs: this.intervalMs,
      onError: () => undefined,
    });
    const byUrl = new Map<string, ScrapeState>();
    for (const model of catalog.list()) {
      for (const upstream of model.upstreams) {
        const target = metricsTargetOf(upstream);
        if (!target) {
          continue;
        }
        const key = `${target.url}\u0000${target.authorization ?? ''}`;
        let state = byUrl.get(key);
        if (!state) {
          state = {
            target,
            upstreamIds: [],
            nextAt: 0,
            failures: 0,
            isRunning: false,
            memory: null,
          };
          byUrl.set(key, state);
          this.states.push(state);
        }
        state.upstreamIds.push(upstream.id);
      }
    }
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs <= 0 || this.states.length === 0) {
      return;
    }
    this.ticks.start({ runNow: true });
  }

  onApplicationShutdown(): Promise<void> {
    return this.ticks.stop();
  }

  /** Starts the readings that are due; never waits for them. */
  tick(now = this.clock()): void {
    for (const state of this.states) {
      if (!state.isRunning && state.nextAt <= now) {
        state.isRunning = true;
        void this.scrape(state).finally(() => {
          state.isRunning = false;
        });
      }
    }
  }

  private async scrape(state: ScrapeState): Promise<void> {
    const { target } = state;
    // Due again one interval after this start, so readings keep the timer's pace.
    const startedAt = this.clock();
    try {
      const answer = await this.fetcher.fetch(target.url, {
        timeoutMs: Math.min(SCRAPE_TIMEOUT_MS, Math.max(this.intervalMs, 250)),
        maxBytes: MAX_METRICS_BYTES,
        authorization: target.authorization,
      });
      if (answer.status !== 200) {
        throw new MetricsFetchError(`HTTP ${answer.status}`, true);
      }
      let figures: LoadFigures;
      if (target.kind === 'ollama') {
        figures = readOllamaPs(answer.text);
      } else {
        const read = readVllmMetrics(answer.text, state.memory);
        figures = read.figures;
        state.memory = read.memory;
      }
      const at = this.clock();
      for (const id of state.upstreamIds) {
        this.book.record(id, figures, at);
      }
      state.failures = 0;
      state.nextAt = startedAt + this.intervalMs - 1;
    } catch (error) {
      const isKnown = error instanceof MetricsFetchError || error instanceof LoadReadError;
      const message = isKnown ? error.message : 'unexpected failure';
      const isReachable = error instanceof MetricsFetchError ? error.isReachable : true;
      for (const id of state.upstreamIds) {
        this.book.recordFailure(id, message, isReachable);
      }
      state.failures++;
      if (state.failures === 1) {
        this.logger.warn(`cannot read the load of ${target.url}: ${message}`);
      }
      const backoff = Math.min(2 ** (state.failures - 1), MAX_BACKOFF_INTERVALS);
      state.nextAt = startedAt + this.intervalMs * backoff - 1;
    }
  }
}
