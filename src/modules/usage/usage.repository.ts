import { Injectable } from '@nestjs/common';
import { DataSource, Repository, SelectQueryBuilder } from 'typeorm';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';
import { quotedTable, SqlParams } from 'src/database/sql-text';

/** Tokens to add to one (key, model, day) row. */
export interface UsageDelta {
  keyId: string;
  model: string;
  day: string;
  promptTokens: number;
  completionTokens: number;
  requests: number;
}

export interface UsageFilter {
  keyId?: string;
  model?: string;
  /** First day, inclusive (`YYYY-MM-DD`). */
  from?: string;
  /** Last day, inclusive. */
  to?: string;
}

export interface UsageTotals {
  promptTokens: number;
  completionTokens: number;
  requests: number;
}

/**
 * Most deltas `add` takes at once: one statement of 6 parameters per row stays far below
 * SQLite's (32,766) and PostgreSQL's (65,535) limits.
 */
export const MAX_DELTAS_PER_ADD = 1_000;

@Injectable()
export class UsageRepository {
  private readonly rows: Repository<DailyUsageEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.rows = dataSource.getRepository(DailyUsageEntity);
  }

  /**
   * Adds every delta to its row, creating missing rows, in ONE statement, so it applies
   * completely or not at all and a failed call can be retried without counting anything twice.
   * No explicit transaction: on SQLite, TypeORM shares one connection between every caller, and
   * a transaction here would collide with other modules' transactions. The database does the
   * addition (`INSERT … ON CONFLICT … DO UPDATE SET n = row.n + excluded.n`, the same SQL on
   * SQLite and PostgreSQL), so concurrent writers (other instances) never lose an update.
   * Deltas must not repeat a (key, model, day): PostgreSQL refuses to update a row twice in one
   * statement.
   */
  async add(deltas: readonly UsageDelta[]): Promise<void> {
    if (deltas.length === 0) {
      return;
    }
    if (deltas.length > MAX_DELTAS_PER_ADD) {
      throw new Error(`at most ${MAX_DELTAS_PER_ADD} usage rows per statement`);
    }
    const params = new SqlParams(this.dataSource);
    const tuples = deltas.map((d) => {
      const row = [d.keyId, d.model, d.day, d.promptTokens, d.completionTokens, d.requests];
      return `(${row.map((value) => params.mark(value)).join(', ')})`;
    });
    const table = quotedTable(this.dataSource, DailyUsageEntity);
    await this.dataSource.query(
      `INSERT INTO ${table} AS u (key_id, model, day, prompt_tokens, completion_tokens, requests)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (key_id, model, day) DO UPDATE SET
         prompt_tokens = u.prompt_tokens + excluded.prompt_tokens,
         completion_tokens = u.completion_tokens + excluded.completion_tokens,
         requests = u.requests + excluded.requests`,
      params.values,
    );
  }

  /** Rows matching the filter, newest day first, then by key and model. */
  list(filter: UsageFilter, limit: number): Promise<DailyUsageEntity[]> {
    return this.filtered(filter)
      .orderBy('u.day', 'DESC')
      .addOrderBy('u.keyId', 'ASC')
      .addOrderBy('u.model', 'ASC')
      .limit(limit)
      .getMany();
  }

  async totals(filter: UsageFilter): Promise<UsageTotals> {
    const raw = await this.filtered(filter)
      .select('SUM(u.promptTokens)', 'prompt')
      .addSelect('SUM(u.completionTokens)', 'completion')
      .addSelect('SUM(u.requests)', 'requests')
      .getRawOne<{ prompt: unknown; completion: unknown; requests: unknown }>();
    return {
      promptTokens: Number(raw?.prompt ?? 0),
      completionTokens: Number(raw?.completion ?? 0),
      requests: Number(raw?.requests ?? 0),
    };
  }

  /** Prompt plus completion tokens of one key within the days given (all days if none). */
  async tokensUsed(keyId: string, from?: string, to?: string): Promise<number> {
    const raw = await this.filtered({ keyId, from, to })
      .select('SUM(u.promptTokens + u.completionTokens)', 'total')
      .getRawOne<{ total: unknown }>();
    return Number(raw?.total ?? 0);
  }

  private filtered(filter: UsageFilter): SelectQueryBuilder<DailyUsageEntity> {
    const query = this.rows.createQueryBuilder('u');
    if (filter.keyId !== undefined) {
      query.andWhere('u.keyId = :keyId', { keyId: filter.keyId });
    }
    if (filter.model !== undefined) {
      query.andWhere('u.model = :model', { model: filter.model });
    }
    if (filter.from !== undefined) {
      query.andWhere('u.day >= :from', { from: filter.from });
    }
    if (filter.to !== undefined) {
      query.andWhere('u.day <= :to', { to: filter.to });
    }
    return query;
  }
}
