import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { LoadFigures } from 'src/modules/fleet/load/load-figures';

/** Figures read this many scrape intervals ago are stale: shown, never used for routing. */
export const STALE_AFTER_INTERVALS = 3;

export interface UpstreamLoad extends LoadFigures {
  /** Epoch ms of the reading the figures come from; null before the first good one. */
  scrapedAt: number | null;
  /** Why the last reading failed (timeout, HTTP status, garbage…); null after a good one. */
  lastError: string | null;
  /** Whether the last attempt reached the server at all (false: refused, timed out). */
  isReachable: boolean | null;
}

const EMPTY: UpstreamLoad = Object.freeze({
  running: null,
  waiting: null,
  kvCacheUsage: null,
  prefixCacheHitRate: null,
  ttftP50Ms: null,
  scrapedAt: null,
  lastError: null,
  isReachable: null,
});

/**
 * Each upstream's load as last read (by the scraper, or from a response's load report header),
 * keyed by `CatalogUpstream.id`. In memory, per process: every instance reads the upstreams
 * itself, which costs each upstream one small GET per interval per instance.
 */
@Injectable()
export class UpstreamLoadBook {
  private readonly entries = new Map<string, UpstreamLoad>();
  readonly staleAfterMs: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.staleAfterMs =
      config.fleet.scrapeIntervalMs > 0 ? config.fleet.scrapeIntervalMs * STALE_AFTER_INTERVALS : 0;
  }

  get(id: string): UpstreamLoad {
    return this.entries.get(id) ?? EMPTY;
  }

  /** Whether figures read at `scrapedAt` are stale at `now`. */
  isStale(load: UpstreamLoad, now: number): boolean {
    return load.scrapedAt === null || now - load.scrapedAt > this.staleAfterMs;
  }

  /**
   * The upstream's queue and KV-cache use when fresh and present, else null: what the picker
   * may compare. A stale reading is never used, however good it looked.
   */
  fresh(id: string, now: number): { waiting: number; kvCacheUsage: number } | null {
    const load = this.entries.get(id);
    if (!load || load.waiting === null || this.isStale(load, now)) {
      return null;
    }
    return { waiting: load.waiting, kvCacheUsage: load.kvCacheUsage ?? 0 };
  }

  /** A good reading: every figure replaced, `scrapedAt` = `at`. */
  record(id: string, figures: LoadFigures, at: number): void {
    this.entries.set(id, { ...figures, scrapedAt: at, lastError: null, isReachable: true });
  }

  /** A failed reading: only `lastError` changes; the old figures age into staleness. */
  recordFailure(id: string, error: string, isReachable: boolean): void {
    this.entries.set(id, { ...this.get(id), lastError: error, isReachable });
  }

  /** A load report in a response header: refreshes the figures it carries, at no extra request. */
  refresh(
    id: string,
    figures: { waiting: number | null; kvCacheUsage: number | null },
    at: number,
  ): void {
    const load = this.get(id);
    const isFresh = !this.isStale(load, at);
    this.entries.set(id, {
      ...load,
      waiting: figures.waiting ?? (isFresh ? load.waiting : null),
      kvCacheUsage: figures.kvCacheUsage ?? (isFresh ? load.kvCacheUsage : null),
      scrapedAt: at,
      lastError: null,
      isReachable: true,
    });
  }
}
