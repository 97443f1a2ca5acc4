import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';

export type QuotaPeriod = NonNullable<AuthContext['tokenQuota']>['period'];

const DAY_MS = 24 * 60 * 60 * 1000;

/** `YYYY-MM-DD` of a moment, in UTC: usage days and quota periods are UTC. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * `utcDay` and `periodWindow` remembering the last day formatted: every request records usage
 * for today and most quota checks ask for today's window, so the date is formatted once a day
 * instead of once a request. A provider of UsageModule (one memo per app).
 */
@Injectable()
export class UtcDays {
  /** The last day formatted, and the span of epoch ms it covers. */
  private last = { from: 0, to: 0, text: '' };

  dayOf(ms: number): string {
    if (ms >= this.last.from && ms < this.last.to) {
      return this.last.text;
    }
    const from = Math.floor(ms / DAY_MS) * DAY_MS;
    const text = utcDay(ms);
    if (Number.isFinite(from)) {
      this.last = { from, to: from + DAY_MS, text };
    }
    return text;
  }

  /** The quota period a moment falls in (see `periodWindow`). */
  windowOf(period: QuotaPeriod, ms: number): PeriodWindow {
    return periodWindow(period, ms, this.dayOf(ms));
  }
}

/** The quota period a moment falls in: the days it spans and when the next one starts. */
export interface PeriodWindow {
  period: QuotaPeriod;
  /** Identifies the window (`2026-11-22`, `2026-11`, `total`). */
  key: string;
  /** First and last day, inclusive; absent for `total`. */
  from?: string;
  to?: string;
  /** When the next window starts (epoch ms); null for `total`, which never resets. */
  resetsAt: number | null;
}

export function periodWindow(
  period: QuotaPeriod,
  ms: number,
  day: string = utcDay(ms),
): PeriodWindow {
  const date = new Date(ms);
  switch (period) {
    case 'day':
      return {
        period,
        key: day,
        from: day,
        to: day,
        resetsAt: Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1),
      };
    case 'month':
      return {
        period,
        key: day.slice(0, 7),
        from: `${day.slice(0, 7)}-01`,
        to: `${day.slice(0, 7)}-31`,
        resetsAt: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
      };
    case 'total':
      return { period, key: 'total', resetsAt: null };
  }
}

export function windowContains(window: PeriodWindow, day: string): boolean {
  return (
    (window.from === undefined || day >= window.from) &&
    (window.to === undefined || day <= window.to)
  );
}
