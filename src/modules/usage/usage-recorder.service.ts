import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage, UsageSink } from 'src/common/types/usage-sink';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { Clock, CLOCK } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { UtcDays } from 'src/modules/usage/usage-period';
import {
  MAX_DELTAS_PER_ADD,
  UsageDelta,
  UsageRepository,
} from 'src/modules/usage/usage.repository';

/** How often recorded usage is written (and so how far other instances' quota views lag). */
export const USAGE_FLUSH_INTERVAL_MS = 1_000;

/** Upstreams are untrusted: a count that is not a sane non-negative integer is clamped. */
const MAX_TOKENS_PER_ANSWER = 1_000_000_000;

function sane(value: number): number {
  return Number.isFinite(value) && value > 0
    ? Math.min(Math.floor(value), MAX_TOKENS_PER_ANSWER)
    : 0;
}

export type UsageListener = (keyId: string, day: string, tokens: number, auth: AuthContext) => void;

/**
 * The `USAGE_SINK` the proxy reports every upstream answer's usage to. `record()` is
 * synchronous and touches only memory: usage is summed per (key, model, UTC day) and written
 * in one additive upsert per batch, every second, off the request path. The last batch is
 * written at shutdown, after the HTTP server has closed (so streams that finished during the
 * grace period are in it) and before the database is closed.
 *
 * Database work (flushes, and quota reads through `exclusive`) runs one task at a time, so a
 * quota read sees each recorded answer exactly once: either written, or still pending here.
 */
@Injectable()
export class UsageRecorder implements UsageSink, OnApplicationBootstrap, OnApplicationShutdown {
  private pending = new Map<string, UsageDelta>();
  private queue: Promise<unknown> = Promise.resolve();
  /** `flush` never rejects: a failed write is logged there and kept for the next run. */
  private readonly flushes = new PeriodicTask(() => this.flush(), {
    everyMs: USAGE_FLUSH_INTERVAL_MS,
    onError: () => undefined,
  });
  private readonly listeners: UsageListener[] = [];
  /** Called once the usage recorded before them is written (see `whenWritten`). */
  private writeWaiters: (() => void)[] = [];
  private isShutDown = false;
  private readonly logger = new Logger('Usage');

  constructor(
    private readonly repository: UsageRepository,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly days: UtcDays = new UtcDays(),
  ) {}

  record(auth: AuthContext, modelAlias: string, usage: TokenUsage): void {
    const prompt = sane(usage.promptTokens);
    const completion = sane(usage.completionTokens);
    const day = this.days.dayOf(this.clock());
    const id = `${auth.keyId}\n${modelAlias}\n${day}`;
    const delta = this.pending.get(id);
    if (delta) {
      delta.promptTokens += prompt;
      delta.completionTokens += completion;
      delta.requests += 1;
    } else {
      this.pending.set(id, {
        keyId: auth.keyId,
        model: modelAlias,
        day,
        promptTokens: prompt,
        completionTokens: completion,
        requests: 1,
      });
    }
    for (const listener of this.listeners) {
      listener(auth.keyId, day, prompt + completion, auth);
    }
    if (this.isShutDown) {
      // A background turn that ended after the final flush: write it while the database is
      // still there, if it is.
      void this.flush();
    }
  }

  /** `listener` hears of every recorded answer, synchronously (the quota cache). */
  onRecorded(listener: UsageListener): void {
    this.listeners.push(listener);
  }

  /**
   * Calls `callback` once everything recorded so far is in the database (after the next flush
   * that writes it; a failed write keeps waiting with its batch). Quota reservations hold a
   * request's real usage until then, so the usage is never counted by neither.
   */
  whenWritten(callback: () => void): void {
    this.writeWaiters.push(callback);
  }

  /** Tokens of `keyId` recorded here but not written yet, within the days given. */
  pendingTokens(keyId: string, from?: string, to?: string): number {
    let total = 0;
    for (const delta of this.pending.values()) {
      if (
        delta.keyId === keyId &&
        (from === undefined || delta.day >= from) &&
        (to === undefined || delta.day <= to)
      ) {
        total += delta.promptTokens + delta.completionTokens;
      }
    }
    return total;
  }

  /** Runs `task` once no flush and no other task is running. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Writes everything recorded so far. A failed write keeps the batch for the next attempt
   * (each write is one statement, so nothing is counted twice). Resolves once written or
   * given back; never rejects.
   */
  flush(): Promise<void> {
    return this.exclusive(async () => {
      const waiters = this.writeWaiters;
      this.writeWaiters = [];
      if (this.pending.size === 0) {
        notify(waiters);
        return;
      }
      const batch = [...this.pending.values()];
      this.pending = new Map();
      let isWritten = true;
      for (let start = 0; start < batch.length; start += MAX_DELTAS_PER_ADD) {
        const chunk = batch.slice(start, start + MAX_DELTAS_PER_ADD);
        try {
          await this.repository.add(chunk);
        } catch (error) {
          this.metrics.databaseErrors.inc();
          this.logger.warn(
            `could not write usage (${chunk.length} rows kept for retry): ${String(error)}`,
          );
          this.restore(chunk);
          isWritten = false;
        }
      }
      if (isWritten) {
        notify(waiters);
      } else {
        this.writeWaiters = [...waiters, ...this.writeWaiters];
      }
    });
  }

  get pendingRows(): number {
    return this.pending.size;
  }

  onApplicationBootstrap(): void {
    this.flushes.start();
  }

  /**
   * After the HTTP server has closed; runs before DatabaseModule's hook, which closes the
   * database (both modules are global, and Nest shuts global modules down in reverse
   * registration order: UsageModule is registered after DatabaseModule).
   */
  async onApplicationShutdown(): Promise<void> {
    await this.flushes.stop();
    for (let attempt = 0; attempt < 3 && this.pending.size > 0; attempt++) {
      await this.flush();
    }
    this.isShutDown = true;
    if (this.pending.size > 0) {
      this.logger.error(
        `usage of ${this.pending.size} (key, model, day) rows could not be written`,
      );
    }
  }

  private restore(chunk: UsageDelta[]): void {
    for (const delta of chunk) {
      const id = `${delta.keyId}\n${delta.model}\n${delta.day}`;
      const newer = this.pending.get(id);
      if (newer) {
        newer.promptTokens += delta.promptTokens;
        newer.completionTokens += delta.completionTokens;
        newer.requests += delta.requests;
      } else {
        this.pending.set(id, delta);
      }
    }
  }
}

function notify(waiters: (() => void)[]): void {
  for (const waiter of waiters) {
    waiter();
  }
}
