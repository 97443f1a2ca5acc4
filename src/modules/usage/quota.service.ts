import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK } from 'src/common/time/clock';
import { PeriodWindow, QuotaPeriod, UtcDays, windowContains } from 'src/modules/usage/usage-period';
import { UsageRecorder } from 'src/modules/usage/usage-recorder.service';
import { UsageRepository } from 'src/modules/usage/usage.repository';

const PERIODS = ['day', 'month', 'total'] as const;

/** A cached total older than this is re-read from the database in the background. */
export const QUOTA_REFRESH_MS = 2_000;

interface QuotaEntry {
  window: PeriodWindow;
  /** Tokens used in the window: the database's sum when loaded, plus what was recorded since. */
  used: number;
  loadedAt: number;
}

/**
 * How many tokens a key has used in its quota's current period, for the quota guard, which
 * asks on every request of a key with a quota. The answer is a cached total per key: read once
 * from the database (written usage plus this instance's pending usage), then kept current by
 * every answer this instance records, and re-read every couple of seconds in the background to
 * pick up other instances' usage. Only the first request of a key (or of a new day or month)
 * waits for the database.
 */
@Injectable()
export class QuotaService {
  private readonly entries = new Map<string, QuotaEntry>();
  /** Entries being read: they hear of new usage too, before they replace the cached one. */
  private readonly loading = new Set<{ keyId: string; entry: QuotaEntry }>();
  private readonly inFlight = new Map<string, Promise<QuotaEntry>>();
  private readonly logger = new Logger('Quota');

  constructor(
    private readonly recorder: UsageRecorder,
    private readonly repository: UsageRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly days: UtcDays = new UtcDays(),
  ) {
    recorder.onRecorded((keyId, day, tokens) => {
      for (const period of PERIODS) {
        const entry = this.entries.get(`${keyId}\n${period}`);
        if (entry && windowContains(entry.window, day)) {
          entry.used += tokens;
        }
      }
      for (const load of this.loading) {
        if (load.keyId === keyId && windowContains(load.entry.window, day)) {
          load.entry.used += tokens;
        }
      }
    });
  }

  /** Tokens used by `keyId` in the current `period`; synchronous when cached. */
  used(keyId: string, period: QuotaPeriod): number | Promise<number> {
    const now = this.clock();
    const window = this.days.windowOf(period, now);
    const entry = this.entries.get(`${keyId}\n${period}`);
    if (entry && entry.window.key === window.key) {
      if (now - entry.loadedAt >= QUOTA_REFRESH_MS) {
        this.load(keyId, window).catch((error: unknown) =>
          this.logger.warn(`could not refresh the quota total of a key: ${String(error)}`),
        );
      }
      return entry.used;
    }
    return this.load(keyId, window).then((loaded) => loaded.used);
  }

  /** Reads the total afresh (written plus pending), bypassing the cache. */
  async usedNow(
    keyId: string,
    period: QuotaPeriod,
  ): Promise<{ used: number; window: PeriodWindow }> {
    const window = this.days.windowOf(period, this.clock());
    const entry = await this.load(keyId, window);
    return { used: entry.used, window };
  }

  private load(keyId: string, window: PeriodWindow): Promise<QuotaEntry> {
    const id = `${keyId}\n${window.key}`;
    const running = this.inFlight.get(id);
    if (running) {
      return running;
    }
    const loaded = this.recorder
      .exclusive(async () => {
        // No flush runs until this task ends: pending usage is not in the database yet, and
        // usage recorded from now on reaches `entry` through the listener.
        const entry: QuotaEntry = {
          window,
          used: this.recorder.pendingTokens(keyId, window.from, window.to),
          loadedAt: this.clock(),
        };
        const load = { keyId, entry };
        this.loading.add(load);
        try {
          // Not `entry.used += await …`: that reads entry.used before the await and would drop
          // what the listener adds meanwhile.
          const written = await this.repository.tokensUsed(keyId, window.from, window.to);
          entry.used += written;
        } finally {
          this.loading.delete(load);
        }
        this.entries.set(`${keyId}\n${window.period}`, entry);
        return entry;
      })
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, loaded);
    return loaded;
  }
}
