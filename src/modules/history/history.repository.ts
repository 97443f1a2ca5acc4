import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { SerialTransactions } from 'src/database/serial-transactions';

/** Rows one DELETE removes at most: keeps each write transaction short (SQLite has one writer). */
export const DELETE_BATCH = 500;

export interface ErasedCounts {
  conversations: number;
  messages: number;
  idempotencyKeys: number;
  searchEntries: number;
}

/** Which users an erase covers: one user id, or a service user and all its end users. */
export interface UserScope {
  userId: string;
  withEndUsers: boolean;
}

/**
 * The bulk reads and deletes of issue #19 (export, retention, erase), as plain SQL over the
 * conversation tables. Nothing here holds a long transaction: each call is one small batch,
 * and callers loop. Deleting `messages` also removes their search index entries (triggers).
 */
@Injectable()
export class HistoryRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: SerialTransactions,
  ) {}

  private get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  /** `?` placeholders numbered for PostgreSQL. */
  private sql(text: string): string {
    let n = 0;
    return this.isPostgres ? text.replace(/\?/g, () => `$${++n}`) : text;
  }

  private read<T>(text: string, values: unknown[]): Promise<T[]> {
    return this.transactions.serially(() => this.dataSource.query(this.sql(text), values));
  }

  /** A write inside `em`'s transaction; resolves with the rows it changed. */
  private async exec(em: EntityManager, text: string, values: unknown[]): Promise<number> {
    const result = await em.queryRunner!.query(this.sql(text), values, true);
    return (result as { affected?: number }).affected ?? 0;
  }

  /** One write statement in its own short transaction. */
  private write(text: string, values: unknown[]): Promise<number> {
    return this.transactions.inTransaction((em) => this.exec(em, text, values));
  }

  /** A page of a user's conversation ids in id order (stable while conversations change). */
  async conversationIds(userId: string, afterId: string, limit: number): Promise<string[]> {
    const rows = await this.read<{ id: string }>(
      'SELECT id FROM conversations WHERE user_id = ? AND id > ? ORDER BY id LIMIT ?',
      [userId, afterId, limit],
    );
    return rows.map((r) => r.id);
  }

  // ---- retention -------------------------------------------------------------------------

  /** Conversations idle since before `cutoff` that no turn holds, oldest first. */
  async idleConversations(
    cutoff: number,
    now: number,
    limit: number,
  ): Promise<{ id: string; treeId: string }[]> {
    const rows = await this.read<{ id: string; tree_id: string }>(
      `SELECT id, tree_id FROM conversations
       WHERE updated_at < ? AND (active_turn_id IS NULL OR active_turn_expires_at < ?)
       ORDER BY updated_at LIMIT ?`,
      [cutoff, now, limit],
    );
    return rows.map((r) => ({ id: r.id, treeId: r.tree_id }));
  }

  /**
   * Deletes one idle conversation, if it is still idle past `cutoff` and no turn holds it (the
   * condition is re-checked in the DELETE: a turn may have started since it was listed, or
   * another instance deleted it). Its messages go when no fork still points into its tree.
   * Resolves with the messages deleted, or null when the conversation was not deleted.
   */
  async deleteIdleConversation(
    id: string,
    treeId: string,
    cutoff: number,
    now: number,
  ): Promise<number | null> {
    return this.transactions.inTransaction(async (em) => {
      const exec = (text: string, values: unknown[]) => this.exec(em, text, values);
      const deleted = await exec(
        `DELETE FROM conversations WHERE id = ? AND updated_at < ?
         AND (active_turn_id IS NULL OR active_turn_expires_at < ?)`,
        [id, cutoff, now],
      );
      if (!deleted) {
        return null;
      }
      const remaining: { n: number | string }[] = await em.query(
        this.sql('SELECT count(*) AS n FROM conversations WHERE tree_id = ?'),
        [treeId],
      );
      if (Number(remaining[0].n) > 0) {
        return 0;
      }
      return exec('DELETE FROM messages WHERE tree_id = ?', [treeId]);
    });
  }

  // ---- erase -----------------------------------------------------------------------------

  private scopeCondition(column: string, scope: UserScope): { text: string; values: unknown[] } {
    if (!scope.withEndUsers) {
      return { text: `${column} = ?`, values: [scope.userId] };
    }
    const prefix = `${scope.userId.replace(/[\\%_]/g, (c) => `\\${c}`)}/%`;
    return {
      text: `(${column} = ? OR ${column} LIKE ? ESCAPE '\\')`,
      values: [scope.userId, prefix],
    };
  }

  async countSearchEntries(scope: UserScope): Promise<number> {
    const where = this.scopeCondition('user_id', scope);
    const rows = await this.read<{ n: number | string }>(
      `SELECT count(*) AS n FROM message_search_docs WHERE ${where.text}`,
      where.values,
    );
    return Number(rows[0].n);
  }

  /** Up to `limit` trees of the users' conversations. */
  async treesOf(scope: UserScope, limit: number): Promise<string[]> {
    const where = this.scopeCondition('user_id', scope);
    const rows = await this.read<{ tree_id: string }>(
      `SELECT DISTINCT tree_id FROM conversations WHERE ${where.text} LIMIT ?`,
      [...where.values, limit],
    );
    return rows.map((r) => r.tree_id);
  }

  /** Deletes up to DELETE_BATCH messages of a tree; resolves with how many. */
  deleteMessagesBatch(treeId: string): Promise<number> {
    return this.write(
      'DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE tree_id = ? LIMIT ?)',
      [treeId, DELETE_BATCH],
    );
  }

  /**
   * Deletes a tree's conversations and whatever messages a turn added meanwhile, in one
   * transaction: a turn still running on it then fails to store its answer (its conversation
   * is gone) instead of writing into an erased history.
   */
  async deleteTree(treeId: string): Promise<{ conversations: number; messages: number }> {
    return this.transactions.inTransaction(async (em) => {
      const exec = (text: string, values: unknown[]) => this.exec(em, text, values);
      const messages = await exec('DELETE FROM messages WHERE tree_id = ?', [treeId]);
      const conversations = await exec('DELETE FROM conversations WHERE tree_id = ?', [treeId]);
      return { conversations, messages };
    });
  }

  deleteIdempotencyKeysBatch(scope: UserScope): Promise<number> {
    const where = this.scopeCondition('user_id', scope);
    return this.write(
      `DELETE FROM idempotency_keys WHERE ${this.isPostgres ? 'ctid' : 'rowid'} IN
         (SELECT ${this.isPostgres ? 'ctid' : 'rowid'} FROM idempotency_keys WHERE ${where.text} LIMIT ?)`,
      [...where.values, DELETE_BATCH],
    );
  }

  /** Index entries left without their message (none, unless a trigger was missing). */
  deleteSearchEntriesBatch(scope: UserScope): Promise<number> {
    const where = this.scopeCondition('user_id', scope);
    return this.write(
      `DELETE FROM message_search_docs WHERE message_id IN
         (SELECT message_id FROM message_search_docs WHERE ${where.text} LIMIT ?)`,
      [...where.values, DELETE_BATCH],
    );
  }
}
