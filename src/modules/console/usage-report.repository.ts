import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export type UsageDimension = 'key' | 'user' | 'model';

export interface UsageReportQuery {
  by: UsageDimension;
  from: string;
  to: string;
  limit: number;
  offset: number;
}

export interface UsageGroupRow {
  label: string;
  prompt_tokens: number;
  completion_tokens: number;
  requests: number;
}

export interface UsageSeriesRow extends UsageGroupRow {
  day: string;
}

/**
 * The SQL label of a dimension. `user` is the key's user (a usage row outlives its key, and the
 * console playground records under `console:<name>`, which has no key row: then the key id).
 */
const LABEL: Record<UsageDimension, string> = {
  key: 'u.key_id',
  model: 'u.model',
  user: 'COALESCE(k.user_id, u.key_id)',
};

/**
 * Aggregates of `usage_daily` for the console. Every query is bounded twice: by a day range
 * (the `idx_usage_daily_day` index picks the rows) and by LIMIT, so a million usage rows cost a
 * range scan of the days asked for, never a full table read into memory.
 */
@Injectable()
export class UsageReportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One row per label over the range, most tokens first, paged. */
  async groups(q: UsageReportQuery): Promise<{ rows: UsageGroupRow[]; total: number }> {
    const label = LABEL[q.by];
    const [where, params] = this.range(q);
    const rows = await this.run<UsageGroupRow>(
      `SELECT ${label} AS label, SUM(u.prompt_tokens) AS prompt_tokens,
              SUM(u.completion_tokens) AS completion_tokens, SUM(u.requests) AS requests
         FROM usage_daily u ${this.join(q.by)}
        WHERE ${where}
        GROUP BY ${label}
        ORDER BY SUM(u.prompt_tokens + u.completion_tokens) DESC, ${label} ASC
        LIMIT ${q.limit} OFFSET ${q.offset}`,
      params,
    );
    const [count] = await this.run<{ n: number }>(
      `SELECT COUNT(DISTINCT ${label}) AS n FROM usage_daily u ${this.join(q.by)} WHERE ${where}`,
      params,
    );
    return { rows: rows.map(numbers), total: Number(count?.n ?? 0) };
  }

  /** Per-day figures of the given labels (the page the table shows), for the chart. */
  async series(q: UsageReportQuery, labels: string[]): Promise<UsageSeriesRow[]> {
    if (labels.length === 0) {
      return [];
    }
    const label = LABEL[q.by];
    const [where, params] = this.range(q);
    const marks = labels.map((_, i) => this.mark(params.length + i + 1));
    const rows = await this.run<UsageSeriesRow>(
      `SELECT u.day AS day, ${label} AS label, SUM(u.prompt_tokens) AS prompt_tokens,
              SUM(u.completion_tokens) AS completion_tokens, SUM(u.requests) AS requests
         FROM usage_daily u ${this.join(q.by)}
        WHERE ${where} AND ${label} IN (${marks.join(', ')})
        GROUP BY u.day, ${label}
        ORDER BY u.day ASC, ${label} ASC`,
      [...params, ...labels],
    );
    return rows.map((r) => ({ ...numbers(r), day: String(r.day) }));
  }

  private range(q: UsageReportQuery): [string, string[]] {
    return [`u.day >= ${this.mark(1)} AND u.day <= ${this.mark(2)}`, [q.from, q.to]];
  }

  private join(by: UsageDimension): string {
    return by === 'user' ? 'LEFT JOIN api_keys k ON k.id = u.key_id' : '';
  }

  private mark(n: number): string {
    return this.dataSource.driver.options.type === 'postgres' ? `$${n}` : '?';
  }

  private run<T>(text: string, params: unknown[]): Promise<T[]> {
    return this.dataSource.query<T[]>(text, params);
  }
}

function numbers<T extends UsageGroupRow>(row: T): T {
  return {
    ...row,
    label: String(row.label),
    prompt_tokens: Number(row.prompt_tokens ?? 0),
    completion_tokens: Number(row.completion_tokens ?? 0),
    requests: Number(row.requests ?? 0),
  };
}
