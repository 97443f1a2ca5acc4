import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiError } from 'src/common/errors/api-error';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { messageValues } from 'src/modules/conversations/conversation-rows';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { rowToMessage } from 'src/modules/conversations/conversation-rows';
import { MetricsService } from 'src/modules/metrics/metrics.service';

const MESSAGE_COLUMNS =
  'id, tree_id, parent_id, depth, turn_id, role, content, name, status, finish_reason, ' +
  'prompt_tokens, completion_tokens, token_estimate, model, error_code, created_at, updated_at';

export const CONVERSATION_COLUMNS =
  'id, user_id, tree_id, title, metadata, model, head_message_id, active_turn_id, ' +
  'active_turn_expires_at, created_at, updated_at';

/** `?, ?, …`: one bound value per column of `columns`. */
export const placeholders = (columns: string) =>
  columns
    .split(',')
    .map(() => '?')
    .join(', ');

const INSERT_MESSAGE = `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (${placeholders(MESSAGE_COLUMNS)})`;

/**
 * What the turn store and the conversations repository share to reach the conversation
 * tables (and the responses repository, for the row a Responses turn writes in the turn's
 * transaction): one placeholder style per database, statements inside a caller's transaction
 * (prepared once on SQLite), the mapping of database failures to `storage_error`, and the
 * read of a message chain.
 */
@Injectable()
export class ConversationSql {
  private readonly logger = new Logger('conversations');
  private readonly postgresSql = new Map<string, string>();

  constructor(
    readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly statements: SqliteStatements,
  ) {}

  get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  /**
   * `text` in this database's placeholder style (`?` on SQLite, `$n` on PostgreSQL). Values
   * are always bound, never inlined: one SQL text per statement, so the driver's
   * prepared-statement cache (100 entries on SQLite) keeps every one of them.
   */
  sql(text: string): string {
    if (!this.isPostgres) {
      return text;
    }
    let pg = this.postgresSql.get(text);
    if (pg === undefined) {
      let n = 0;
      pg = text.replace(/\?/g, () => `$${++n}`);
      this.postgresSql.set(text, pg);
    }
    return pg;
  }

  /**
   * Runs a write inside `em`'s transaction; resolves with the number of rows it changed. On
   * SQLite through a statement better-sqlite3 keeps prepared (same connection, same transaction).
   */
  async exec(em: EntityManager, text: string, values: unknown[]): Promise<number> {
    if (this.statements.isAvailable) {
      return this.statements.run(text, values);
    }
    const result = await em.queryRunner!.query(this.sql(text), values, true);
    return (result as { affected?: number }).affected ?? 0;
  }

  /** A read inside `em`'s transaction (see `exec`). */
  async read(
    em: EntityManager,
    text: string,
    values: unknown[],
  ): Promise<Record<string, unknown>[]> {
    if (this.statements.isAvailable) {
      return this.statements.all(text, values);
    }
    return em.query<Record<string, unknown>[]>(this.sql(text), values);
  }

  async insertMessages(em: EntityManager, rows: MessageEntity[]): Promise<void> {
    for (const row of rows) {
      await this.exec(em, INSERT_MESSAGE, messageValues(row));
    }
  }

  /**
   * The chain of messages ending at `headMessageId`, oldest first: one recursive query that
   * follows `parent_id` through the primary key (the same SQL on SQLite and PostgreSQL).
   * Not wrapped in `run`: callers do that. Inside a transaction when `em` is given.
   */
  async chain(headMessageId: string, em?: EntityManager): Promise<StoredMessage[]> {
    const p = this.isPostgres ? '$1' : '?';
    const rows: Record<string, unknown>[] = await (em ?? this.dataSource).query(
      `WITH RECURSIVE chain AS (
         SELECT * FROM messages WHERE id = ${p}
         UNION ALL
         SELECT m.* FROM messages m JOIN chain c ON m.id = c.parent_id AND m.depth < c.depth
       )
       SELECT * FROM chain ORDER BY depth`,
      [headMessageId],
    );
    return rows.map(rowToMessage);
  }

  /** Catalog errors pass through; anything the database throws becomes `storage_error`. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ApiError) {
        throw error;
      }
      this.metrics.databaseErrors.inc();
      this.logger.error(
        `storage failure: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new ApiError('storage_error', 'The database could not complete the request', {
        cause: error,
      });
    }
  }
}
