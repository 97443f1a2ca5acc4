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
 * Each report reads in two stages. The inner stage sums a day range per (day, key) or
 * (day, model), in the order of a covering index (`idx_usage_daily_report_key` / `_model`), so
 * the database streams it without sorting the range's rows; the outer stage groups those few
 * partial sums (days × keys at most) by the label. `user` is the key's user, joined after the
 * inner stage (a usage row outlives its key, and the playground records under
 * `console:<name>`, which has no key row: then the key id is the label).
 */
const INNER: Record<UsageDimension, string> = {
  key: 'u.key_id',
  user: 'u.key_id',
  model: 'u.model',
};

/**
 * Aggregates of `usage_daily` for the console. Every query is bounded twice: by a day range
 * (an index range) and by LIMIT, so a million usage rows cost a scan of the days asked for,
 * never a read of the whole table into memory.
 */
@Injectable()
export class UsageReportRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** One row per label over the range, most tokens first, paged, with the number of groups. */
  async groups(q: UsageReportQuery): Promise<{ rows: UsageGroupRow[]; total: number }> {
    const [inner, params] = this.partialSums(q);
    const label = this.label(q.by);
    // The number of groups comes from the same pass (a window over the groups, computed
    // before LIMIT). A page past the end has no row to carry it: it answers 0 groups.
    const rows = await this.run<UsageGroupRow & { total_groups: number }>(
      `SELECT ${label} AS label, SUM(s.p) AS prompt_tokens, SUM(s.c) AS completion_tokens,
              SUM(s.r) AS requests, COUNT(*) OVER () AS total_groups
         FROM (${inner}) s ${this.join(q.by)}
        GROUP BY ${label}
        ORDER BY SUM(s.p + s.c) DESC, ${label} ASC
        LIMIT ${q.limit} OFFSET ${q.offset}`,
      params,
    );
    const total = rows.length > 0 ? Number(rows[0].total_groups) : 0;
    return { rows: rows.map(({ total_groups: _, ...row }) => numbers(row)), total };
  }

  /** Per-day figures of the given labels (the page the table shows), for the chart. */
  async series(q: UsageReportQuery, labels: string[]): Promise<UsageSeriesRow[]> {
    if (labels.length === 0) {
      return [];
    }
    const label = this.label(q.by);
    // Keys and models are filtered inside (the primary key serves a key filter directly).
    const innerFilter = q.by === 'user' ? [] : labels;
    const [inner, params] = this.partialSums(q, innerFilter);
    const outer =
      q.by === 'user'
        ? `WHERE ${label} IN (${labels.map((_, i) => this.mark(params.length + i + 1)).join(', ')})`
        : '';
    const rows = await this.run<UsageSeriesRow>(
      `SELECT s.day AS day, ${label} AS label, SUM(s.p) AS prompt_tokens,
              SUM(s.c) AS completion_tokens, SUM(s.r) AS requests
         FROM (${inner}) s ${this.join(q.by)}
        ${outer}
        GROUP BY s.day, ${label}
        ORDER BY s.day ASC, ${label} ASC`,
      q.by === 'user' ? [...params, ...labels] : params,
    );
    return rows.map((r) => ({ ...numbers(r), day: String(r.day) }));
  }

  /** The inner stage: sums per (day, key or model) over the range, optionally for some only. */
  private partialSums(q: UsageReportQuery, only: string[] = []): [string, string[]] {
    const column = INNER[q.by];
    const params = [q.from, q.to, ...only];
    const filter =
      only.length > 0
        ? ` AND ${column} IN (${only.map((_, i) => this.mark(i + 3)).join(', ')})`
        : '';
    return [
      `SELECT u.day AS day, ${column} AS g, SUM(u.prompt_tokens) AS p,
              SUM(u.completion_tokens) AS c, SUM(u.requests) AS r
         FROM usage_daily u
        WHERE u.day >= ${this.mark(1)} AND u.day <= ${this.mark(2)}${filter}
        GROUP BY u.day, ${column}`,
      params,
    ];
  }

  private label(by: UsageDimension): string {
    return by === 'user' ? 'COALESCE(k.user_id, s.g)' : 's.g';
  }

  private join(by: UsageDimension): string {
    return by === 'user' ? 'LEFT JOIN api_keys k ON k.id = s.g' : '';
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
