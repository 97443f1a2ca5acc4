import { Injectable } from '@nestjs/common';
import { DataSource, In, LessThanOrEqual, Repository } from 'typeorm';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';
import { QuotaReservationEntity } from 'src/modules/usage/quota-reservation.entity';
import { isPostgres, quotedTable, SqlParams } from 'src/database/sql-text';

export interface ReservationRequest {
  id: string;
  keyId: string;
  tokens: number;
  expiresAt: number;
  /** The key's quota. */
  limit: number;
  /** The quota's window in `usage_daily` days (inclusive); absent for `total`. */
  from?: string;
  to?: string;
  now: number;
}

/**
 * Advisory-lock namespace of quota reservations on PostgreSQL (the second key is the key id's
 * hash): reservations of one key are decided one at a time, across every gateway instance.
 */
const QUOTA_LOCK_NAMESPACE = 22_005;

/**
 * The quota reservations table (see `QuotaReservationEntity`). The admission decision is one
 * conditional INSERT: the row goes in only if the key's written usage in the window plus its
 * live reservations are below the limit. On SQLite every statement runs alone on the one
 * connection, so the statement is atomic; on PostgreSQL (READ COMMITTED, several connections)
 * it runs in a transaction behind a per-key advisory lock, and its snapshot, taken after the
 * lock, sees every reservation committed before.
 */
@Injectable()
export class QuotaReservationsRepository {
  private readonly isPostgres: boolean;
  private readonly reservations: string;
  private readonly usage: string;
  private readonly rows: Repository<QuotaReservationEntity>;

  constructor(private readonly dataSource: DataSource) {
    this.rows = dataSource.getRepository(QuotaReservationEntity);
    this.isPostgres = isPostgres(dataSource);
    this.reservations = quotedTable(dataSource, QuotaReservationEntity);
    this.usage = quotedTable(dataSource, DailyUsageEntity);
  }

  /** Inserts the reservation if the key is below its limit; true when it was. */
  async reserve(request: ReservationRequest): Promise<boolean> {
    const params = new SqlParams(this.dataSource);
    const mark = (value: string | number, pgType?: string) => params.mark(value, pgType);
    const values = [
      mark(request.id, 'varchar'),
      mark(request.keyId, 'varchar'),
      mark(request.tokens, 'bigint'),
      mark(request.expiresAt, 'bigint'),
    ].join(', ');
    let window = '';
    const usageKey = mark(request.keyId);
    if (request.from !== undefined && request.to !== undefined) {
      window = ` AND day >= ${mark(request.from)} AND day <= ${mark(request.to)}`;
    }
    const sql = `INSERT INTO ${this.reservations} (id, key_id, tokens, expires_at)
      SELECT ${values}
      WHERE (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) FROM ${this.usage}
               WHERE key_id = ${usageKey}${window})
          + (SELECT COALESCE(SUM(tokens), 0) FROM ${this.reservations}
               WHERE key_id = ${mark(request.keyId)} AND expires_at > ${mark(request.now, 'bigint')})
          < ${mark(request.limit, 'bigint')}
      RETURNING id`;
    if (!this.isPostgres) {
      const rows = await this.dataSource.query<unknown[]>(sql, params.values);
      return rows.length === 1;
    }
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(${QUOTA_LOCK_NAMESPACE}, hashtext($1))`, [
        request.keyId,
      ]);
      const rows = await manager.query<unknown[]>(sql, params.values);
      return rows.length === 1;
    });
  }

  /** The reservation now holds the request's real usage, until that usage is written. */
  async settle(id: string, tokens: number, expiresAt: number): Promise<void> {
    await this.rows.update({ id }, { tokens, expiresAt });
  }

  async release(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) {
      await this.rows.delete({ id: In([...ids]) });
    }
  }

  /** Live reservations of a key (for the refusal message). */
  async reserved(keyId: string, now: number): Promise<number> {
    const raw = await this.rows
      .createQueryBuilder('r')
      .select('SUM(r.tokens)', 'total')
      .where('r.keyId = :keyId AND r.expiresAt > :now', { keyId, now })
      .getRawOne<{ total: unknown }>();
    return Number(raw?.total ?? 0);
  }

  /** Deletes lapsed reservations (they no longer count; this only keeps the table small). */
  async purgeExpired(now: number): Promise<void> {
    await this.rows.delete({ expiresAt: LessThanOrEqual(now) });
  }
}
