import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { Counter } from 'prom-client';
import { setImmediate as nextTick } from 'node:timers/promises';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { HistoryRepository } from 'src/modules/history/history.repository';

/** Conversations listed per batch; each is then deleted in its own short transaction. */
const SWEEP_BATCH = 100;
/** A sweep stops after this many batches and leaves the rest to the next one. */
const MAX_BATCHES_PER_SWEEP = 50;

/**
 * `CONVERSATION_TTL_DAYS`: deletes conversations idle longer than the TTL, with their messages
 * and search entries (docs/notes/history.md, "Retention").
 *
 * - One conversation per transaction, so SQLite's single writer is never held for long, and
 *   the event loop gets a turn between batches (better-sqlite3 is synchronous).
 * - Safe with several instances: the DELETE re-checks the idle condition, so two sweepers
 *   picking the same conversation delete it once, and a turn that started since it was
 *   listed keeps it.
 * - A conversation with a turn running is never deleted (its claim has not expired).
 */
@Injectable()
export class RetentionSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('retention');
  private readonly sweeps: PeriodicTask;
  private isStopping = false;
  private readonly conversationsDeleted: Counter;
  private readonly messagesDeleted: Counter;

  constructor(
    private readonly repository: HistoryRepository,
    metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.sweeps = new PeriodicTask(() => this.sweep(), {
      everyMs: config.history.sweepIntervalMs,
      onError: (error) =>
        this.logger.error(
          `retention sweep failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    this.conversationsDeleted = new Counter({
      name: 'parley_retention_conversations_deleted_total',
      help: 'Conversations deleted by the retention sweep (CONVERSATION_TTL_DAYS)',
      registers: [metrics.registry],
    });
    this.messagesDeleted = new Counter({
      name: 'parley_retention_messages_deleted_total',
      help: 'Messages deleted by the retention sweep (CONVERSATION_TTL_DAYS)',
      registers: [metrics.registry],
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.history.ttlMs !== null) {
      this.sweeps.start({ runNow: true });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.isStopping = true;
    await this.sweeps.stop();
  }

  /** One sweep: deletes what is idle past the TTL now, in batches; resolves with the count. */
  async sweep(): Promise<number> {
    const ttlMs = this.config.history.ttlMs;
    if (ttlMs === null) {
      return 0;
    }
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_SWEEP && !this.isStopping; batch++) {
      const now = this.clock();
      const cutoff = now - ttlMs;
      const idle = await this.repository.idleConversations(cutoff, now, SWEEP_BATCH);
      for (const c of idle) {
        const messages = await this.repository.deleteIdleConversation(c.id, c.treeId, cutoff, now);
        if (messages !== null) {
          deleted += 1;
          this.conversationsDeleted.inc();
          this.messagesDeleted.inc(messages);
        }
      }
      if (idle.length < SWEEP_BATCH) {
        break;
      }
      await nextTick();
    }
    if (deleted > 0) {
      this.logger.log(`retention: deleted ${deleted} idle conversation(s)`);
    }
    return deleted;
  }
}
