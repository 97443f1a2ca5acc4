import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SerialTransactions } from 'src/database/serial-transactions';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { SearchIndexQueue } from 'src/modules/search/search-index-queue';
import {
  fts5Phrase,
  isTrigramSearchable,
  likeContains,
  ownerToken,
  SearchTerms,
} from 'src/modules/search/search-query';

/** Marks a hit inside a snippet; private-use characters cannot come from the database text. */
export const MARK_START = '\uE000';
export const MARK_END = '\uE001';

/**
 * ts_headline drops anything that looks like an HTML tag from its excerpt; `<` and `>` stand
 * in as private-use characters while it works, so the snippet keeps the message's own text.
 */
const TAG_STAND_INS = '\uE002\uE003';
const restoreTagCharacters = (text: string) =>
  text.replaceAll('\uE002', '<').replaceAll('\uE003', '>');

export interface SearchRow {
  conversationId: string;
  messageId: string;
  role: string;
  createdAt: number;
  body: string;
  /** With MARK_START/MARK_END around hits, or null when the caller must cut one from `body`. */
  snippet: string | null;
}

/**
 * Reads the search index (`message_search_*`, kept by triggers: src/modules/search/search-index.ddl.ts).
 * Every query is scoped to one user inside the index itself (the owner token on SQLite, the
 * `user_id` column on PostgreSQL), so another user's text can never match.
 */
@Injectable()
export class MessageSearchRepository {
  private readonly logger = new Logger('search');

  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly transactions: SerialTransactions,
    private readonly indexQueue: SearchIndexQueue,
  ) {}

  /** Up to `limit` hits of `userId`'s messages, best first, skipping `offset`. */
  async search(
    userId: string,
    query: SearchTerms,
    limit: number,
    offset: number,
  ): Promise<SearchRow[]> {
    try {
      await this.indexQueue.indexLeftovers();
      const rows =
        this.dataSource.options.type === 'postgres'
          ? await this.searchPostgres(userId, query, limit, offset)
          : await this.transactions.serially(() => this.searchSqlite(userId, query, limit, offset));
      return rows.map((r) => ({
        conversationId: r.conversation_id as string,
        messageId: r.message_id as string,
        role: r.role as string,
        createdAt: Number(r.created_at),
        body: r.body as string,
        snippet: typeof r.snippet === 'string' ? restoreTagCharacters(r.snippet) : null,
      }));
    } catch (error) {
      this.metrics.databaseErrors.inc();
      this.logger.error(
        `search failure: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new ApiError('storage_error', 'The database could not complete the search', {
        cause: error,
      });
    }
  }

  private searchSqlite(
    userId: string,
    query: SearchTerms,
    limit: number,
    offset: number,
  ): Promise<Record<string, unknown>[]> {
    const conversation = `(SELECT c.id FROM conversations c WHERE c.tree_id = d.tree_id AND c.user_id = ?
      ORDER BY c.updated_at DESC LIMIT 1) AS conversation_id`;
    if (!query.isSubstring) {
      // The owner token is ANDed inside the index: FTS5 intersects it with the terms, so the
      // cost follows the caller's matches, not everybody's.
      const match = [
        `owner : ${fts5Phrase(ownerToken(userId))}`,
        ...query.terms.map((t) => `body : ${fts5Phrase(t)}`),
      ].join(' AND ');
      return this.dataSource.query(
        `SELECT d.message_id, m.role, m.created_at, d.body, ${conversation},
           snippet(message_search_words, 1, char(57344), char(57345), '…', 24) AS snippet
         FROM message_search_words f
         JOIN message_search_docs d ON d.rid = f.rowid
         JOIN messages m ON m.id = d.message_id
         WHERE message_search_words MATCH ? AND d.user_id = ?
         ORDER BY bm25(message_search_words, 0.0, 1.0), d.rid DESC
         LIMIT ? OFFSET ?`,
        [userId, match, userId, limit, offset],
      );
    }
    // Substrings. Terms of 3+ characters go through the trigram index (selective: a trigram of
    // Chinese or Japanese text is rare); the caller's rows are then kept by `user_id`. Only
    // shorter terms: the caller's own rows (the user_id index) are scanned with LIKE.
    const indexed = query.terms.filter(isTrigramSearchable);
    const likes = query.terms.map(() => "AND d.body LIKE ? ESCAPE '\\'").join(' ');
    const patterns = query.terms.map(likeContains);
    if (indexed.length === 0) {
      return this.dataSource.query(
        `SELECT d.message_id, m.role, m.created_at, d.body, ${conversation}, NULL AS snippet
         FROM message_search_docs d JOIN messages m ON m.id = d.message_id
         WHERE d.user_id = ? ${likes}
         ORDER BY d.rid DESC
         LIMIT ? OFFSET ?`,
        [userId, userId, ...patterns, limit, offset],
      );
    }
    return this.dataSource.query(
      `SELECT d.message_id, m.role, m.created_at, d.body, ${conversation}, NULL AS snippet
       FROM message_search_grams f
       JOIN message_search_docs d ON d.rid = f.rowid
       JOIN messages m ON m.id = d.message_id
       WHERE message_search_grams MATCH ? AND d.user_id = ? ${likes}
       ORDER BY bm25(message_search_grams), d.rid DESC
       LIMIT ? OFFSET ?`,
      [userId, indexed.map(fts5Phrase).join(' AND '), userId, ...patterns, limit, offset],
    );
  }

  private searchPostgres(
    userId: string,
    query: SearchTerms,
    limit: number,
    offset: number,
  ): Promise<Record<string, unknown>[]> {
    const select = `SELECT d.message_id, m.role, m.created_at, d.body,
         (SELECT c.id FROM conversations c WHERE c.tree_id = d.tree_id AND c.user_id = $1
          ORDER BY c.updated_at DESC LIMIT 1) AS conversation_id`;
    if (query.isSubstring) {
      const likes = query.terms.map((_, i) => `AND d.body ILIKE $${i + 2} ESCAPE '\\'`);
      const n = query.terms.length + 2;
      return this.dataSource.query(
        `${select}, NULL AS snippet
         FROM message_search_docs d JOIN messages m ON m.id = d.message_id
         WHERE d.user_id = $1 ${likes.join(' ')}
         ORDER BY m.created_at DESC, d.message_id DESC
         LIMIT $${n} OFFSET $${n + 1}`,
        [userId, ...query.terms.map(likeContains), limit, offset],
      );
    }
    // plainto_tsquery reads its text as words joined by AND: operators in it are not syntax.
    return this.dataSource.query(
      `${select},
         ts_headline('english', translate(d.body, '<>', '${TAG_STAND_INS}'), q, $3) AS snippet
       FROM message_search_docs d JOIN messages m ON m.id = d.message_id,
         plainto_tsquery('english', $2) q
       WHERE d.user_id = $1 AND d.tsv @@ q
       ORDER BY ts_rank_cd(d.tsv, q) DESC, d.message_id DESC
       LIMIT $4 OFFSET $5`,
      [
        userId,
        query.terms.join(' '),
        `StartSel="${MARK_START}", StopSel="${MARK_END}", MaxWords=30, MinWords=10, MaxFragments=1, FragmentDelimiter=" … "`,
        limit,
        offset,
      ],
    );
  }
}
