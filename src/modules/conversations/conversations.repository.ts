import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { DataSource, EntityManager } from 'typeorm';
import { GroupCommit } from 'src/database/group-commit';
import { newRowId } from 'src/database/row-id';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { ApiError } from 'src/common/errors/api-error';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import {
  AssistantResult,
  ConversationMetadata,
  ConversationRecord,
  DeleteOutcome,
  IdempotencyRecord,
  ListCursor,
  NewMessage,
  StartedTurn,
  StartTurnInput,
  StoredMessage,
  TurnFailure,
} from 'src/modules/conversations/conversation.types';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { MessageEntity, MessageStatus } from 'src/modules/conversations/message.entity';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { NeutralPart, NeutralRole } from 'src/kernel/neutral-history';

/** Error code stored on messages of a turn whose process died before it finished. */
export const INTERRUPTED_ERROR_CODE = 'internal_error';

/**
 * The only class that talks to the conversation tables. Each method that needs atomicity owns
 * its transaction; races between turns (and between gateway instances) are settled by
 * conditional UPDATEs and primary keys, never by in-process locks. Database failures surface
 * as 500 `storage_error`.
 */
@Injectable()
export class ConversationsRepository {
  private readonly logger = new Logger('conversations');
  private readonly postgresSql = new Map<string, string>();
  constructor(
    private readonly dataSource: DataSource,
    private readonly metrics: MetricsService,
    private readonly transactions: SerialTransactions,
    private readonly groupCommit: GroupCommit,
    private readonly statements: SqliteStatements,
    @Inject(CLOCK) private readonly now: Clock = systemClock,
  ) {}

  // ---- reading ---------------------------------------------------------------------------

  async findConversation(userId: string, id: string): Promise<ConversationRecord | null> {
    return this.run(async () => {
      const rows: Record<string, unknown>[] = await this.dataSource.query(
        this.sql(SQL.findConversation),
        [id, userId],
      );
      return rows.length ? rowToConversation(rows[0]) : null;
    });
  }

  /** A user's conversations, most recently active first; `limit + 1` rows tell `has_more`. */
  async listConversations(
    userId: string,
    limit: number,
    after: ListCursor | null,
  ): Promise<ConversationRecord[]> {
    return this.run(async () => {
      const qb = this.dataSource.manager
        .createQueryBuilder(ConversationEntity, 'c')
        .where('c.user_id = :userId', { userId })
        .orderBy('c.updated_at', 'DESC')
        .addOrderBy('c.id', 'DESC')
        .limit(limit);
      if (after) {
        qb.andWhere('(c.updated_at < :u OR (c.updated_at = :u AND c.id < :id))', {
          u: after.updatedAt,
          id: after.id,
        });
      }
      return (await qb.getMany()).map(toConversation);
    });
  }

  /**
   * The chain of messages ending at `headMessageId`, oldest first: one recursive query that
   * follows `parent_id` through the primary key (the same SQL on SQLite and PostgreSQL).
   */
  async history(headMessageId: string | null): Promise<StoredMessage[]> {
    if (!headMessageId) {
      return [];
    }
    return this.run(async () => {
      const p = this.isPostgres ? '$1' : '?';
      const rows: Record<string, unknown>[] = await this.dataSource.query(
        `WITH RECURSIVE chain AS (
           SELECT * FROM messages WHERE id = ${p}
           UNION ALL
           SELECT m.* FROM messages m JOIN chain c ON m.id = c.parent_id AND m.depth < c.depth
         )
         SELECT * FROM chain ORDER BY depth`,
        [headMessageId],
      );
      return rows.map(rowToMessage);
    });
  }

  async findIdempotencyKey(
    userId: string,
    key: string,
    notBefore: number,
  ): Promise<IdempotencyRecord | null> {
    return this.run(async () => {
      const row = await this.dataSource.manager.findOneBy(IdempotencyKeyEntity, { userId, key });
      return row && row.createdAt >= notBefore ? { ...row } : null;
    });
  }

  async findMessage(id: string): Promise<StoredMessage | null> {
    return this.run(async () => {
      const row = await this.dataSource.manager.findOneBy(MessageEntity, { id });
      return row ? entityToMessage(row) : null;
    });
  }

  // ---- a turn ----------------------------------------------------------------------------

  /**
   * Claims the conversation for one turn (creating it when `conversationId` is null) and
   * stores the turn's input messages as `pending`, in one transaction that is committed when
   * this resolves, before anything goes upstream.
   *
   * @throws ApiError 404 conversation_not_found (missing or another user's), 409
   *   conversation_busy (another turn holds it, or the same Idempotency-Key is in flight), 409
   *   conversation_conflict (`expectedLastMessageId` is not the head).
   */
  async startTurn(input: StartTurnInput): Promise<StartedTurn> {
    if (input.messages.length === 0) {
      throw new Error('startTurn needs at least one message');
    }
    return this.run(() =>
      this.groupCommit.run(async (em) => {
        const now = this.now();
        const turnId = newRowId(now);
        const expiresAt = now + input.claimTtlMs;
        const ids = input.messages.map(() => newRowId(now));
        const headId = ids[ids.length - 1];
        let conversation: ConversationRecord;
        let parentId: string | null = null;
        let depth = 0;
        const rows: MessageEntity[] = [];

        if (input.conversationId === null) {
          const id = newRowId(now);
          const created = em.create(ConversationEntity, {
            id,
            userId: input.userId,
            treeId: id,
            title: input.title ?? null,
            metadata: null,
            model: input.model,
            headMessageId: headId,
            activeTurnId: turnId,
            activeTurnExpiresAt: expiresAt,
            createdAt: now,
            updatedAt: now,
          });
          await this.exec(em, SQL.insertConversation, conversationValues(created));
          conversation = toConversation(created);
          if (input.system) {
            const system = newMessageRow(input.system, {
              id: newRowId(now),
              treeId: id,
              parentId: null,
              depth: 0,
              turnId,
              status: 'completed',
              now,
            });
            rows.push(system);
            parentId = system.id;
            depth = 1;
          }
        } else {
          const found = await this.read(em, SQL.findConversationWithHead, [
            input.conversationId,
            input.userId,
          ]);
          if (found.length === 0) {
            throw notFound();
          }
          const current = rowToConversation(found[0]);
          const headDepth = found[0].head_depth;
          if (current.activeTurnId) {
            if ((current.activeTurnExpiresAt ?? 0) >= now) {
              throw busy();
            }
            await this.releaseStaleTurn(em, current.id, current.activeTurnId, now);
          }
          if (
            input.expectedLastMessageId !== undefined &&
            input.expectedLastMessageId !== null &&
            input.expectedLastMessageId !== current.headMessageId
          ) {
            throw new ApiError(
              'conversation_conflict',
              `The conversation's last message is ${current.headMessageId ?? 'none'}, not ${input.expectedLastMessageId}`,
              { param: 'expected_last_message_id' },
            );
          }
          // The claim: holds only if nobody claimed it or moved its head since the read above.
          const claimValues = [
            turnId,
            expiresAt,
            headId,
            input.model,
            Math.max(now, current.updatedAt),
            current.id,
          ];
          const claimed =
            current.headMessageId === null
              ? await this.exec(em, SQL.claimEmpty, claimValues)
              : await this.exec(em, SQL.claim, [...claimValues, current.headMessageId]);
          if (!claimed) {
            throw busy();
          }
          conversation = {
            ...current,
            activeTurnId: turnId,
            activeTurnExpiresAt: expiresAt,
            headMessageId: headId,
            model: input.model,
            updatedAt: Math.max(now, current.updatedAt),
          };
          if (current.headMessageId) {
            parentId = current.headMessageId;
            depth = (headDepth === null || headDepth === undefined ? -1 : Number(headDepth)) + 1;
          }
        }

        input.messages.forEach((message, i) => {
          const row = newMessageRow(message, {
            id: ids[i],
            treeId: conversation.treeId,
            parentId,
            depth,
            turnId,
            status: 'pending',
            now,
          });
          rows.push(row);
          parentId = row.id;
          depth += 1;
        });
        await this.insertMessages(em, rows);

        if (input.idempotency) {
          // An expired record of the same key makes room; a live one collides on the primary key.
          await this.exec(em, SQL.deleteExpiredIdempotencyKey, [
            input.userId,
            input.idempotency.key,
            now - IDEMPOTENCY_TTL_MS,
          ]);
          try {
            await this.exec(em, SQL.insertIdempotencyKey, [
              input.userId,
              input.idempotency.key,
              input.idempotency.fingerprint,
              conversation.id,
              turnId,
              now,
            ]);
          } catch (error) {
            if (isUniqueViolation(error)) {
              throw new ApiError(
                'conversation_busy',
                'A request with this Idempotency-Key is already in progress',
              );
            }
            throw error;
          }
        }
        await input.onStored?.(em, { turnId, conversationId: conversation.id });
        const stored = rows.map(entityToMessage);
        return {
          conversation,
          turnId,
          inputs: stored.filter((m) => m.status === 'pending'),
          system: stored.find((m) => m.role === 'system' && m.status === 'completed') ?? null,
          isNew: input.conversationId === null,
        };
      }),
    );
  }

  /**
   * Stores the assistant's answer, marks the turn's input messages `completed`, moves the head
   * and releases the claim, in one transaction.
   */
  async finishTurn(turn: StartedTurn, result: AssistantResult): Promise<StoredMessage> {
    const stored = await this.run(() =>
      this.groupCommit.run(async (em) => {
        const now = this.now();
        const last = turn.inputs[turn.inputs.length - 1];
        const assistant = newMessageRow(
          {
            role: 'assistant',
            parts: result.parts,
            name: result.name,
            tokenEstimate: result.tokenEstimate,
          },
          {
            id: result.id ?? newRowId(now),
            treeId: turn.conversation.treeId,
            parentId: last.id,
            depth: last.depth + 1,
            turnId: turn.turnId,
            status: result.status,
            now,
          },
        );
        assistant.finishReason = result.finishReason;
        assistant.promptTokens = result.promptTokens;
        assistant.completionTokens = result.completionTokens;
        assistant.model = result.model;
        await this.endTurn(em, turn, assistant.id, now);
        await this.insertMessages(em, [assistant]);
        await this.exec(em, SQL.completePending, [now, turn.turnId]);
        await this.exec(em, SQL.linkIdempotencyKey, [assistant.id, turn.turnId]);
        return entityToMessage(assistant);
      }),
    );
    // Counted once committed: a grouped unit may run twice (see GroupCommit).
    this.metrics.turnsStored.inc({ status: result.status });
    return stored;
  }

  /**
   * Marks the turn `failed`: its inputs and an (empty) assistant message carrying the error
   * code, kept in history but never forwarded again. Releases the claim and forgets the
   * Idempotency-Key, so a retry with the same key runs again.
   */
  async failTurn(turn: StartedTurn, failure: TurnFailure): Promise<StoredMessage> {
    const stored = await this.run(() =>
      this.groupCommit.run(async (em) => {
        const now = this.now();
        const last = turn.inputs[turn.inputs.length - 1];
        const assistant = newMessageRow(
          { role: 'assistant', parts: [], tokenEstimate: 0 },
          {
            id: failure.id ?? newRowId(now),
            treeId: turn.conversation.treeId,
            parentId: last.id,
            depth: last.depth + 1,
            turnId: turn.turnId,
            status: 'failed',
            now,
          },
        );
        assistant.model = failure.model;
        assistant.errorCode = failure.errorCode;
        await this.endTurn(em, turn, assistant.id, now);
        await this.insertMessages(em, [assistant]);
        await this.exec(em, SQL.failPending, [failure.errorCode, now, turn.turnId]);
        await em
          .createQueryBuilder()
          .delete()
          .from(IdempotencyKeyEntity)
          .where('turn_id = :t', { t: turn.turnId })
          .execute();
        return entityToMessage(assistant);
      }),
    );
    // Counted once committed: a grouped unit may run twice (see GroupCommit).
    this.metrics.turnsStored.inc({ status: 'failed' });
    return stored;
  }

  /** Moves the head past the turn and releases the claim, if this turn still holds it. */
  private async endTurn(em: EntityManager, turn: StartedTurn, headId: string, now: number) {
    const released = await this.exec(em, SQL.endTurn, [
      headId,
      now,
      turn.conversation.id,
      turn.turnId,
    ]);
    if (!released) {
      // The conversation was deleted, or this turn outlived its claim and was reaped.
      throw new ApiError(
        'conversation_conflict',
        'The conversation changed while this turn was running; the answer was not stored',
      );
    }
  }

  /** Releases an expired claim and fails the messages its turn left pending. */
  private async releaseStaleTurn(em: EntityManager, id: string, turnId: string, now: number) {
    const released = await em
      .createQueryBuilder()
      .update(ConversationEntity)
      .set({ activeTurnId: null, activeTurnExpiresAt: null })
      .where('id = :id AND active_turn_id = :t', { id, t: turnId })
      .execute();
    if (!released.affected) {
      return false;
    }
    await em
      .createQueryBuilder()
      .update(MessageEntity)
      .set({ status: 'failed', errorCode: INTERRUPTED_ERROR_CODE, updatedAt: now })
      .where('turn_id = :t AND status = :s', { t: turnId, s: 'pending' })
      .execute();
    await em
      .createQueryBuilder()
      .delete()
      .from(IdempotencyKeyEntity)
      .where('turn_id = :t', { t: turnId })
      .execute();
    return true;
  }

  /**
   * Resolves turns whose claim expired before `cutoff` (their process died, or outlived the
   * total timeout): their pending messages become `failed` and the claim is released.
   * Returns how many turns were resolved.
   */
  async reapExpiredTurns(cutoff: number): Promise<number> {
    let total = 0;
    for (;;) {
      const stale = await this.run(() =>
        this.transactions.serially(() =>
          this.dataSource.manager
            .createQueryBuilder(ConversationEntity, 'c')
            .select(['c.id', 'c.activeTurnId'])
            .where('c.active_turn_expires_at < :cutoff', { cutoff })
            .limit(100)
            .getMany(),
        ),
      );
      if (stale.length === 0) {
        return total;
      }
      for (const c of stale) {
        const isReleased = await this.run(() =>
          this.transactions.inTransaction((em) =>
            this.releaseStaleTurn(em, c.id, c.activeTurnId ?? '', this.now()),
          ),
        );
        total += isReleased ? 1 : 0;
      }
      if (stale.length < 100) {
        return total;
      }
    }
  }

  /** Forgets Idempotency-Keys older than the 24-hour window. */
  async purgeIdempotencyKeys(before: number): Promise<void> {
    await this.run(() =>
      this.transactions.serially(() =>
        this.dataSource.manager
          .createQueryBuilder()
          .delete()
          .from(IdempotencyKeyEntity)
          .where('created_at < :before', { before })
          .execute(),
      ),
    );
  }

  // ---- shaping ---------------------------------------------------------------------------

  async updateConversation(
    userId: string,
    id: string,
    patch: { title?: string | null; metadata?: ConversationMetadata | null },
  ): Promise<ConversationRecord | null> {
    return this.run(() =>
      this.transactions.inTransaction(async (em) => {
        const set: Partial<ConversationEntity> = {};
        if (patch.title !== undefined) {
          set.title = patch.title;
        }
        if (patch.metadata !== undefined) {
          set.metadata = patch.metadata === null ? null : JSON.stringify(patch.metadata);
        }
        const result = await em
          .createQueryBuilder()
          .update(ConversationEntity)
          .set(set)
          .where('id = :id AND user_id = :userId', { id, userId })
          .execute();
        if (!result.affected) {
          return null;
        }
        const row = await em.findOneByOrFail(ConversationEntity, { id });
        return toConversation(row);
      }),
    );
  }

  /**
   * Deletes a conversation that no turn holds. Its messages go with it unless a fork still
   * points into the same tree; then they stay until the last conversation of the tree goes.
   */
  async deleteConversation(userId: string, id: string): Promise<DeleteOutcome> {
    return this.run(() =>
      this.transactions.inTransaction(async (em) => {
        const now = this.now();
        const current = await em.findOneBy(ConversationEntity, { id, userId });
        if (!current) {
          return 'not_found';
        }
        const result = await em
          .createQueryBuilder()
          .delete()
          .from(ConversationEntity)
          .where('id = :id AND (active_turn_id IS NULL OR active_turn_expires_at < :now)', {
            id,
            now,
          })
          .execute();
        if (!result.affected) {
          return 'busy';
        }
        if (current.activeTurnId) {
          await em
            .createQueryBuilder()
            .delete()
            .from(IdempotencyKeyEntity)
            .where('turn_id = :t', { t: current.activeTurnId })
            .execute();
        }
        const remaining = await em.countBy(ConversationEntity, { treeId: current.treeId });
        if (remaining === 0) {
          await em
            .createQueryBuilder()
            .delete()
            .from(MessageEntity)
            .where('tree_id = :tree', { tree: current.treeId })
            .execute();
        }
        return 'deleted';
      }),
    );
  }

  /**
   * A new conversation of the same user whose head is `message` (a message of the source's
   * history, already checked by the caller): nothing is copied.
   */
  async forkConversation(
    source: ConversationRecord,
    message: StoredMessage,
  ): Promise<ConversationRecord> {
    return this.run(() =>
      this.transactions.serially(async () => {
        const now = this.now();
        const row = this.dataSource.manager.create(ConversationEntity, {
          id: newRowId(now),
          userId: source.userId,
          treeId: source.treeId,
          title: source.title,
          metadata: source.metadata === null ? null : JSON.stringify(source.metadata),
          model: source.model,
          headMessageId: message.id,
          activeTurnId: null,
          activeTurnExpiresAt: null,
          createdAt: now,
          updatedAt: now,
        });
        await this.dataSource.manager.insert(ConversationEntity, row);
        return toConversation(row);
      }),
    );
  }

  // ---- plumbing --------------------------------------------------------------------------

  private get isPostgres(): boolean {
    return this.dataSource.options.type === 'postgres';
  }

  /**
   * A statement of `SQL` in this database's placeholder style (`?` on SQLite, `$n` on
   * PostgreSQL). Values are always bound, never inlined: one SQL text per statement, so the
   * driver's prepared-statement cache (100 entries on SQLite) keeps every one of them.
   */
  private sql(text: string): string {
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
  private async exec(em: EntityManager, text: string, values: unknown[]): Promise<number> {
    if (this.statements.isAvailable) {
      return this.statements.run(text, values);
    }
    const result = await em.queryRunner!.query(this.sql(text), values, true);
    return (result as { affected?: number }).affected ?? 0;
  }

  /** A read inside `em`'s transaction (see `exec`). */
  private async read(
    em: EntityManager,
    text: string,
    values: unknown[],
  ): Promise<Record<string, unknown>[]> {
    if (this.statements.isAvailable) {
      return this.statements.all(text, values);
    }
    return em.query<Record<string, unknown>[]>(this.sql(text), values);
  }

  private async insertMessages(em: EntityManager, rows: MessageEntity[]): Promise<void> {
    for (const row of rows) {
      await this.exec(em, SQL.insertMessage, messageValues(row));
    }
  }

  /** Catalog errors pass through; anything the database throws becomes `storage_error`. */
  private async run<T>(work: () => Promise<T>): Promise<T> {
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

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

const MESSAGE_COLUMNS =
  'id, tree_id, parent_id, depth, turn_id, role, content, name, status, finish_reason, ' +
  'prompt_tokens, completion_tokens, token_estimate, model, error_code, created_at, updated_at';
const CONVERSATION_COLUMNS =
  'id, user_id, tree_id, title, metadata, model, head_message_id, active_turn_id, ' +
  'active_turn_expires_at, created_at, updated_at';
const placeholders = (columns: string) =>
  columns
    .split(',')
    .map(() => '?')
    .join(', ');

/**
 * The statements of a turn, written out rather than built by TypeORM's query builder: the
 * builder costs more CPU than SQLite's own work, and its SQLite driver inlines every number as
 * a literal, so each statement carrying a timestamp was a new SQL text to prepare (see
 * docs/notes/bench.md). `?` marks a bound value (`sql()` numbers them for PostgreSQL).
 */
const SQL = {
  findConversation: 'SELECT * FROM conversations WHERE id = ? AND user_id = ?',
  /** The conversation and the depth of its head message, in one read. */
  findConversationWithHead:
    'SELECT c.*, h.depth AS head_depth FROM conversations c ' +
    'LEFT JOIN messages h ON h.id = c.head_message_id WHERE c.id = ? AND c.user_id = ?',
  insertConversation: `INSERT INTO conversations (${CONVERSATION_COLUMNS}) VALUES (${placeholders(CONVERSATION_COLUMNS)})`,
  claim:
    'UPDATE conversations SET active_turn_id = ?, active_turn_expires_at = ?, ' +
    'head_message_id = ?, model = ?, updated_at = ? ' +
    'WHERE id = ? AND active_turn_id IS NULL AND head_message_id = ?',
  claimEmpty:
    'UPDATE conversations SET active_turn_id = ?, active_turn_expires_at = ?, ' +
    'head_message_id = ?, model = ?, updated_at = ? ' +
    'WHERE id = ? AND active_turn_id IS NULL AND head_message_id IS NULL',
  endTurn:
    'UPDATE conversations SET head_message_id = ?, active_turn_id = NULL, ' +
    'active_turn_expires_at = NULL, updated_at = ? WHERE id = ? AND active_turn_id = ?',
  insertMessage: `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (${placeholders(MESSAGE_COLUMNS)})`,
  completePending:
    "UPDATE messages SET status = 'completed', updated_at = ? WHERE turn_id = ? AND status = 'pending'",
  failPending:
    "UPDATE messages SET status = 'failed', error_code = ?, updated_at = ? " +
    "WHERE turn_id = ? AND status = 'pending'",
  deleteExpiredIdempotencyKey:
    'DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND created_at < ?',
  insertIdempotencyKey:
    'INSERT INTO idempotency_keys ' +
    '(user_id, key, fingerprint, conversation_id, turn_id, assistant_message_id, created_at) ' +
    'VALUES (?, ?, ?, ?, ?, NULL, ?)',
  linkIdempotencyKey: 'UPDATE idempotency_keys SET assistant_message_id = ? WHERE turn_id = ?',
} as const;

function conversationValues(c: ConversationEntity): unknown[] {
  return [
    c.id,
    c.userId,
    c.treeId,
    c.title,
    c.metadata,
    c.model,
    c.headMessageId,
    c.activeTurnId,
    c.activeTurnExpiresAt,
    c.createdAt,
    c.updatedAt,
  ];
}

function messageValues(m: MessageEntity): unknown[] {
  return [
    m.id,
    m.treeId,
    m.parentId,
    m.depth,
    m.turnId,
    m.role,
    m.content,
    m.name,
    m.status,
    m.finishReason,
    m.promptTokens,
    m.completionTokens,
    m.tokenEstimate,
    m.model,
    m.errorCode,
    m.createdAt,
    m.updatedAt,
  ];
}

const notFound = () =>
  new ApiError('conversation_not_found', 'No conversation with this id belongs to you', {
    param: 'conversation_id',
  });

const busy = () =>
  new ApiError('conversation_busy', 'Another turn of this conversation is in progress');

function newMessageRow(
  message: NewMessage,
  at: {
    id: string;
    treeId: string;
    parentId: string | null;
    depth: number;
    turnId: string;
    status: MessageStatus;
    now: number;
  },
): MessageEntity {
  const row = new MessageEntity();
  Object.assign(row, {
    id: at.id,
    treeId: at.treeId,
    parentId: at.parentId,
    depth: at.depth,
    turnId: at.turnId,
    role: message.role,
    content: JSON.stringify(message.parts),
    name: message.name ?? null,
    status: at.status,
    finishReason: null,
    promptTokens: null,
    completionTokens: null,
    tokenEstimate: message.tokenEstimate,
    model: null,
    errorCode: null,
    createdAt: at.now,
    updatedAt: at.now,
  } satisfies MessageEntity);
  return row;
}

function toConversation(row: ConversationEntity): ConversationRecord {
  return {
    id: row.id,
    userId: row.userId,
    treeId: row.treeId,
    title: row.title,
    metadata: row.metadata ? (JSON.parse(row.metadata) as ConversationMetadata) : null,
    model: row.model,
    headMessageId: row.headMessageId,
    activeTurnId: row.activeTurnId,
    activeTurnExpiresAt: row.activeTurnExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A raw `conversations` row (snake_case; PostgreSQL returns BIGINT as a string). */
function rowToConversation(row: Record<string, unknown>): ConversationRecord {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const expiresAt = row.active_turn_expires_at;
  return toConversation({
    id: row.id as string,
    userId: row.user_id as string,
    treeId: row.tree_id as string,
    title: str(row.title),
    metadata: str(row.metadata),
    model: str(row.model),
    headMessageId: str(row.head_message_id),
    activeTurnId: str(row.active_turn_id),
    activeTurnExpiresAt: expiresAt === null || expiresAt === undefined ? null : Number(expiresAt),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  });
}

export function entityToMessage(row: MessageEntity): StoredMessage {
  return {
    id: row.id,
    treeId: row.treeId,
    parentId: row.parentId,
    depth: row.depth,
    turnId: row.turnId,
    role: row.role as NeutralRole,
    parts: JSON.parse(row.content) as NeutralPart[],
    name: row.name,
    status: row.status,
    finishReason: row.finishReason,
    promptTokens: row.promptTokens,
    completionTokens: row.completionTokens,
    tokenEstimate: row.tokenEstimate,
    model: row.model,
    errorCode: row.errorCode,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** A raw row of the recursive query (snake_case; PostgreSQL returns BIGINT as a string). */
function rowToMessage(row: Record<string, unknown>): StoredMessage {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    id: row.id as string,
    treeId: row.tree_id as string,
    parentId: str(row.parent_id),
    depth: Number(row.depth),
    turnId: row.turn_id as string,
    role: row.role as NeutralRole,
    parts: JSON.parse(row.content as string) as NeutralPart[],
    name: str(row.name),
    status: row.status as MessageStatus,
    finishReason: str(row.finish_reason),
    promptTokens: num(row.prompt_tokens),
    completionTokens: num(row.completion_tokens),
    tokenEstimate: Number(row.token_estimate),
    model: str(row.model),
    errorCode: str(row.error_code),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const raw = e?.driverError?.code ?? e?.code;
  const code = typeof raw === 'string' ? raw : '';
  return code === '23505' || code.startsWith('SQLITE_CONSTRAINT');
}
