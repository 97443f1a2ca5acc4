import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { databaseKind } from 'src/database/data-source';
import {
  ConversationsRepository,
  IDEMPOTENCY_TTL_MS,
} from 'src/modules/conversations/conversations.repository';

/** How long past the total timeout a turn's claim holds: room to store the answer. */
export const CLAIM_MARGIN_MS = 60_000;
const SWEEP_INTERVAL_MS = 60_000;
/** How often a turn this process could not resolve is retried (see `releaseLater`). */
export const RELEASE_RETRY_MS = 1_000;

/**
 * Resolves turns that a dead process left `pending` (docs/notes/conversations.md, "Crash
 * recovery"): their messages become `failed` (error code `internal_error`) and the claim is
 * released, so the conversation takes turns again and nothing stays pending.
 *
 * - At boot on SQLite, every claim is stale: one process owns the file, and it just started.
 * - At boot on PostgreSQL, and every minute on both, only claims past their expiry (the total
 *   timeout plus a margin) are: other instances may be running turns right now.
 * - A turn that finds an expired claim takes it over at once (ConversationsRepository).
 */
@Injectable()
export class TurnReaper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('conversations');
  private timer: NodeJS.Timeout | null = null;
  /** Turns to release as soon as the database takes writes again, by turn id. */
  private readonly orphans = new Map<string, { conversationId: string; until: number }>();
  private retry: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: ConversationsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const isSqlite = databaseKind(this.config.db.url) === 'sqlite';
    const resolved = await this.repository.reapExpiredTurns(
      isSqlite ? Number.MAX_SAFE_INTEGER : Date.now(),
    );
    if (resolved > 0) {
      this.logger.warn(`marked ${resolved} interrupted turn(s) failed at start`);
    }
    await this.repository.purgeIdempotencyKeys(Date.now() - IDEMPOTENCY_TTL_MS);
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    if (this.retry) {
      clearTimeout(this.retry);
    }
  }

  /**
   * A turn whose outcome could not be stored (the database refused the write) would otherwise
   * keep its claim — the conversation answering 409 `conversation_busy` — until the claim
   * expires, minutes later. Retries releasing it every second instead, so the conversation
   * works again as soon as the database does; past the claim's expiry the sweep takes over.
   */
  releaseLater(conversationId: string, turnId: string): void {
    this.orphans.set(turnId, {
      conversationId,
      until: Date.now() + this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
    });
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.retry || this.orphans.size === 0) {
      return;
    }
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.releaseOrphans().finally(() => this.scheduleRetry());
    }, RELEASE_RETRY_MS);
    this.retry.unref();
  }

  private async releaseOrphans(): Promise<void> {
    for (const [turnId, { conversationId, until }] of this.orphans) {
      try {
        if (await this.repository.releaseTurn(conversationId, turnId)) {
          this.logger.warn(
            `released turn ${turnId} of conversation ${conversationId} after a storage failure`,
          );
        }
        this.orphans.delete(turnId);
      } catch {
        // Still unwritable (logged by the repository): retried, until the sweep's turn.
        if (Date.now() > until) {
          this.orphans.delete(turnId);
        }
        return;
      }
    }
  }

  private async sweep(): Promise<void> {
    try {
      const resolved = await this.repository.reapExpiredTurns(Date.now());
      if (resolved > 0) {
        this.logger.warn(`marked ${resolved} expired turn(s) failed`);
      }
      await this.repository.purgeIdempotencyKeys(Date.now() - IDEMPOTENCY_TTL_MS);
    } catch {
      // Logged by the repository; the next sweep tries again.
    }
  }
}
