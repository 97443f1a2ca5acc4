import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { serially } from 'src/database/serial-transactions';

/**
 * The bulk reads and deletes of issue #19 (export, retention, erase), written as plain SQL
 * over the conversation tables so that neither holds a long transaction: each call does one
 * small batch, and callers loop.
 */
@Injectable()
export class HistoryRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  /** `?` placeholders numbered for PostgreSQL. */
  private sql(text: string): string {
    let n = 0;
    return this.isPostgres ? text.replace(/\?/g, () => `$${++n}`) : text;
  }

  private read<T>(text: string, values: unknown[]): Promise<T[]> {
    return serially(this.dataSource, () => this.dataSource.query(this.sql(text), values));
  }

  /** A page of a user's conversation ids in id order (stable while conversations change). */
  async conversationIds(userId: string, afterId: string, limit: number): Promise<string[]> {
    const rows = await this.read<{ id: string }>(
      'SELECT id FROM conversations WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?',
      [userId, afterId, limit],
    );
    return rows.map((r) => r.id);
  }
}
