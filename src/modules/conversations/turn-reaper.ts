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
import { databaseKind } from 'src/database/data-source';
import { ApiError } from 'src/common/errors/api-error';
import { StartedTurn, TurnFailure } from 'src/modules/conversations/conversation.types';
import { IDEMPOTENCY_TTL_MS, TurnsRepository } from 'src/modules/conversations/turns.repository';

/** How long past the total timeout a turn's claim holds: room to store the answer. */
export const CLAIM_MARGIN_MS = 60_000;
const SWEEP_INTERVAL_MS = 60_000;
/** How often a turn that could not be marked failed is tried again. */
const SETTLE_RETRY_MS = 1_000;
/** Beyond this many, unsettled turns wait for the sweep (their claim's expiry). */
const MAX_UNSETTLED = 10_000;

interface UnsettledTurn {
  turn: StartedTurn;
  failure: TurnFailure;
  /** Past this (epoch ms) the claim has expired and the sweep resolves the turn. */
  until: number;
}

/**
 * Resolves turns that a dead process left `pending` (docs/notes/conversations.md, "Crash
 * recovery"): their messages become `failed` (error code `internal_error`) and the claim is
 * released, so the conversation takes turns again and nothing stays pending.
 *
 * - At boot on SQLite, every claim is stale: one process owns the file, and it just started.
 * - At boot on PostgreSQL, and every minute on both, only claims past their expiry (the total
 *   timeout plus a margin) are: other instances may be running turns right now.
 * - A turn that finds an expired claim takes it over at once (TurnsRepository).
 * - A turn this process could not store nor mark failed (the database was away) is marked
 *   failed as soon as the database answers again (`settleLater`), so its conversation does
 *   not stay busy until the claim expires.
 */
@Injectable()
export class TurnReaper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('conversations');
  /** The sweep logs its own failures. */
  private readonly sweeps = new PeriodicTask(() => this.sweep(), {
    everyMs: SWEEP_INTERVAL_MS,
    onError: () => undefined,
  });
  private readonly unsettled = new Map<string, UnsettledTurn>();
  private retryTimer: NodeJS.Timeout | null = null;
  private isRetrying = false;

  constructor(
    private readonly repository: TurnsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const isSqlite = databaseKind(this.config.db.url) === 'sqlite';
    const resolved = await this.repository.reapExpiredTurns(
      isSqlite ? Number.MAX_SAFE_INTEGER : this.clock(),
    );
    if (resolved > 0) {
      this.logger.warn(`marked ${resolved} interrupted turn(s) failed at start`);
    }
    await this.repository.purgeIdempotencyKeys(this.clock() - IDEMPOTENCY_TTL_MS);
    this.sweeps.start();
  }

  onApplicationShutdown(): void {
    void this.sweeps.stop();
    this.stopRetrying();
  }

  /**
   * Marks `turn` failed once the database answers again, retrying every second while this
   * process holds its claim. For turns whose store and failure marking both failed.
   */
  settleLater(turn: StartedTurn, failure: TurnFailure): void {
    if (this.unsettled.size >= MAX_UNSETTLED) {
      return;
    }
    const until = this.clock() + this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS;
    this.unsettled.set(turn.turnId, { turn, failure, until });
    if (!this.retryTimer) {
      this.retryTimer = setInterval(() => void this.retryUnsettled(), SETTLE_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  private async retryUnsettled(): Promise<void> {
    if (this.isRetrying) {
      return;
    }
    this.isRetrying = true;
    try {
      for (const [turnId, entry] of this.unsettled) {
        try {
          await this.repository.failTurn(entry.turn, entry.failure);
          this.unsettled.delete(turnId);
          this.logger.warn(`marked a turn failed once the database answered again`);
        } catch (error) {
          // conversation_conflict: the turn was resolved meanwhile (stored, reaped, deleted).
          const isResolved = error instanceof ApiError && error.code === 'conversation_conflict';
          if (isResolved || this.clock() > entry.until) {
            this.unsettled.delete(turnId);
            continue;
          }
          // Still away (the repository logged it): one failure per round, not one per turn.
          break;
        }
      }
    } finally {
      this.isRetrying = false;
      if (this.unsettled.size === 0) {
        this.stopRetrying();
      }
    }
  }

  private stopRetrying(): void {
    if (this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private async sweep(): Promise<void> {
    try {
      const resolved = await this.repository.reapExpiredTurns(this.clock());
      if (resolved > 0) {
        this.logger.warn(`marked ${resolved} expired turn(s) failed`);
      }
      await this.repository.purgeIdempotencyKeys(this.clock() - IDEMPOTENCY_TTL_MS);
    } catch {
      // Logged by the repository; the next sweep tries again.
    }
  }
}
