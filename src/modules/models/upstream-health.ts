import { Injectable, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { ErrorCode } from 'src/common/errors/error-catalog';

export interface UpstreamHealth {
  /** `unknown` until the first request or probe reached it. */
  status: 'up' | 'down' | 'unknown';
  /** Epoch ms of the last observation. */
  seenAt: number | null;
  /** Time to response headers of the last successful exchange. */
  latencyMs: number | null;
  /** Catalog code of the last failure, if the last observation was one. */
  lastError: ErrorCode | null;
}

/**
 * Per-upstream health as last seen by real traffic and by the readiness probe, keyed by
 * `CatalogUpstream.id`. In memory, per process: it describes what this instance saw.
 */
@Injectable()
export class UpstreamHealthBook {
  constructor(@Inject(CLOCK) private readonly clock: Clock = systemClock) {}

  private readonly entries = new Map<string, UpstreamHealth>();

  get(id: string): UpstreamHealth {
    return (
      this.entries.get(id) ?? { status: 'unknown', seenAt: null, latencyMs: null, lastError: null }
    );
  }

  markUp(id: string, latencyMs: number): void {
    const entry = this.entry(id);
    entry.status = 'up';
    entry.seenAt = this.clock();
    entry.latencyMs = latencyMs;
    entry.lastError = null;
  }

  /** A failure that says the upstream is not reachable (connect refused, reset, probe failure). */
  markDown(id: string, code: ErrorCode): void {
    const entry = this.entry(id);
    entry.status = 'down';
    entry.seenAt = this.clock();
    entry.lastError = code;
  }

  /** A failure of one request that says nothing about reachability (timeout, 5xx). */
  noteError(id: string, code: ErrorCode): void {
    const entry = this.entry(id);
    entry.seenAt = this.clock();
    entry.lastError = code;
  }

  /** Whether the upstream failed to connect within the last `withinMs` (balancing skips it). */
  isRecentlyDown(id: string, withinMs: number): boolean {
    const entry = this.entries.get(id);
    return (
      entry?.status === 'down' && entry.seenAt !== null && this.clock() - entry.seenAt < withinMs
    );
  }

  private entry(id: string): UpstreamHealth {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { status: 'unknown', seenAt: null, latencyMs: null, lastError: null };
      this.entries.set(id, entry);
    }
    return entry;
  }
}
