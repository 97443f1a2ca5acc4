import { Injectable, OnModuleDestroy, OnModuleInit, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { DataSource } from 'typeorm';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { TrafficHistory, TrafficWindow } from 'src/modules/console/traffic-history';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface TokenFigures {
  prompt_tokens: number;
  completion_tokens: number;
  requests: number;
}

export interface OverviewResponse {
  traffic: { last_hour: TrafficWindow; last_day: TrafficWindow };
  tokens: { today: TokenFigures; last_7_days: TokenFigures };
  generated_at: string;
}

/** The console's overview figures: this instance's traffic, and everyone's tokens. */
@Injectable()
export class OverviewService implements OnModuleInit, OnModuleDestroy {
  private readonly traffic: TrafficHistory;
  /** A sample is arithmetic on in-memory counters: it cannot fail. */
  private readonly samples = new PeriodicTask(() => this.traffic.sample(this.clock()), {
    everyMs: MINUTE,
    onError: () => undefined,
  });

  constructor(
    metrics: MetricsService,
    private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {
    this.traffic = new TrafficHistory(metrics.http);
  }

  onModuleInit(): void {
    this.samples.start({ runNow: true });
  }

  onModuleDestroy(): Promise<void> {
    return this.samples.stop();
  }

  async overview(): Promise<OverviewResponse> {
    const now = this.clock();
    const today = new Date(now).toISOString().slice(0, 10);
    const weekAgo = new Date(now - 6 * 24 * HOUR).toISOString().slice(0, 10);
    return {
      traffic: {
        last_hour: this.traffic.window(now, HOUR),
        last_day: this.traffic.window(now, 24 * HOUR),
      },
      tokens: {
        today: await this.tokens(today, today),
        last_7_days: await this.tokens(weekAgo, today),
      },
      generated_at: new Date(now).toISOString(),
    };
  }

  /** Everyone's tokens over a few days: an index range on `usage_daily.day`. */
  private async tokens(from: string, to: string): Promise<TokenFigures> {
    const isPostgres = this.dataSource.driver.options.type === 'postgres';
    const [row] = await this.dataSource.query<Record<string, unknown>[]>(
      `SELECT SUM(prompt_tokens) AS p, SUM(completion_tokens) AS c, SUM(requests) AS r
         FROM usage_daily WHERE day >= ${isPostgres ? '$1' : '?'} AND day <= ${isPostgres ? '$2' : '?'}`,
      [from, to],
    );
    return {
      prompt_tokens: Number(row?.p ?? 0),
      completion_tokens: Number(row?.c ?? 0),
      requests: Number(row?.r ?? 0),
    };
  }
}
