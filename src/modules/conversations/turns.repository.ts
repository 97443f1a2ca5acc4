import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { EntityManager } from 'typeorm';
import { GroupCommit } from 'src/database/group-commit';
import { newRowId } from 'src/database/row-id';
import { SerialTransactions } from 'src/database/serial-transactions';
import { ApiError } from 'src/common/errors/api-error';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import {
  conversationValues,
  entityToMessage,
  newMessageRow,
  rowToConversation,
  toConversation,
} from 'src/modules/conversations/conversation-rows';
import {
  CONVERSATION_COLUMNS,
  ConversationSql,
  placeholders,
} from 'src/modules/conversations/conversation-sql';
import {
  AssistantResult,
  ConversationRecord,
  IdempotencyRecord,
  StartedTurn,
  StoredMessage,
  TurnFailure,
} from 'src/modules/conversations/conversation.types';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { History, historyMessages, linkChain } from 'src/modules/conversations/history-chain';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import {
  ClaimedTurn,
  ReplayedTurn,
  TurnClaim,
  TurnStore,
} from 'src/modules/conversations/turn-store';

/** Error code stored on messages of a turn whose process died before it finished. */
export const INTERRUPTED_ERROR_CODE = 'internal_error';

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The turn store (`TurnStore`) on the database: what a turn writes to the conversation tables (claim and pending inputs,
 * the answer, a failure), the Idempotency-Keys of turns, and the reaping of turns whose
 * process died. Each method that needs atomicity owns its transaction; races between turns
 * (and between gateway instances) are settled by conditional UPDATEs and primary keys, never
 * by in-process locks. Database failures surface as 500 `storage_error`.
 */
@Injectable()
export class TurnsRepository implements TurnStore {
  constructor(
    private readonly db: ConversationSql,
    private readonly metrics: MetricsService,
    private readonly cache: HistoryCache,
    private readonly transactions: SerialTransactions,
    private readonly groupCommit: GroupCommit,
    @Inject(CLOCK) private readonly now: Clock = systemClock,
  ) {}

  async findIdempotencyKey(
    userId: string,
    key: string,
    notBefore: number,
  ): Promise<IdempotencyRecord | null> {
    return this.db.run(async () => {
      const row = await this.db.dataSource.manager.findOneBy(IdempotencyKeyEntity, { userId, key });
      return row && row.createdAt >= notBefore ? { ...row } : null;
    });
  }

  /** See `TurnStore.claimAndLoad`. */
  async claimAndLoad(input: TurnClaim): Promise<ClaimedTurn | ReplayedTurn> {
    if (input.messages.length === 0) {
      throw new Error('claimAndLoad needs at least one message');
    }
    return this.db.run(() =>
      this.groupCommit.run(async (em): Promise<ClaimedTurn | ReplayedTurn> => {
        const now = this.now();
        if (input.idempotency) {
          const replayed = await this.replayed(em, input.userId, input.idempotency.key, now);
          if (replayed) {
            return replayed;
          }
        }
        const turnId = newRowId(now);
        const expiresAt = now + input.claimTtlMs;
        const ids = input.messages.map(() => newRowId(now));
        const headId = ids[ids.length - 1];
        let conversation: ConversationRecord;
        let parentId: string | null = null;
        let depth = 0;
        const rows: MessageEntity[] = [];
        let history: History = null;

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
          await this.db.exec(em, SQL.insertConversation, conversationValues(created));
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
            history = linkChain([entityToMessage(system)]);
          }
          input.accept?.(historyMessages(history));
        } else {
          const found = await this.db.read(em, SQL.findConversationWithHead, [
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
          history = await this.historyOf(em, current.headMessageId);
          if (input.accept) {
            input.accept(historyMessages(history));
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
              ? await this.db.exec(em, SQL.claimEmpty, claimValues)
              : await this.db.exec(em, SQL.claim, [...claimValues, current.headMessageId]);
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
        await this.db.insertMessages(em, rows);

        if (input.idempotency) {
          // An expired record of the same key makes room; a live one collides on the primary key.
          await this.db.exec(em, SQL.deleteExpiredIdempotencyKey, [
            input.userId,
            input.idempotency.key,
            now - IDEMPOTENCY_TTL_MS,
          ]);
          try {
            await this.db.exec(em, SQL.insertIdempotencyKey, [
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
        const turn: StartedTurn = {
          conversation,
          turnId,
          inputs: stored.filter((m) => m.status === 'pending'),
          system: stored.find((m) => m.role === 'system' && m.status === 'completed') ?? null,
          isNew: input.conversationId === null,
        };
        return { kind: 'claimed', turn, history };
      }),
    );
  }

  /** See `TurnStore.finish`; the finished chain is kept for the conversation's next turn. */
  async finish(claimed: ClaimedTurn, result: AssistantResult): Promise<StoredMessage> {
    const assistant = await this.finishTurn(claimed.turn, result);
    // The inputs as the database now has them (updated when the turn ended), linked after
    // the history they extend: the cache keeps the chain without copying the history.
    const { updatedAt } = assistant;
    const inputs = claimed.turn.inputs.map((m) => ({
      ...m,
      status: 'completed' as const,
      updatedAt,
    }));
    this.cache.set(linkChain([...inputs, assistant], claimed.history));
    return assistant;
  }

  /** See `TurnStore.fail`; the failed chain is kept for the conversation's next turn. */
  async fail(claimed: ClaimedTurn, failure: TurnFailure): Promise<StoredMessage> {
    const assistant = await this.failTurn(claimed.turn, failure);
    const errorCode = failure.errorCode;
    // As in `finish`: the inputs as stored, linked after the history.
    const { updatedAt } = assistant;
    const inputs = claimed.turn.inputs.map((m) => ({
      ...m,
      status: 'failed' as const,
      errorCode,
      updatedAt,
    }));
    this.cache.set(linkChain([...inputs, assistant], claimed.history));
    return assistant;
  }

  /** The history a turn extends: from the cache of recent chains, else one recursive read. */
  private async historyOf(em: EntityManager, headId: string | null): Promise<History> {
    if (headId === null) {
      return null;
    }
    return this.cache.get(headId) ?? linkChain(await this.db.chain(headId, em));
  }

  /** A live record of this Idempotency-Key, with its stored answer once there is one. */
  private async replayed(
    em: EntityManager,
    userId: string,
    key: string,
    now: number,
  ): Promise<ReplayedTurn | null> {
    const record = await em.findOneBy(IdempotencyKeyEntity, { userId, key });
    if (!record || record.createdAt < now - IDEMPOTENCY_TTL_MS) {
      return null;
    }
    const assistant = record.assistantMessageId
      ? await em.findOneBy(MessageEntity, { id: record.assistantMessageId })
      : null;
    return {
      kind: 'replay',
      conversationId: record.conversationId,
      fingerprint: record.fingerprint,
      assistant: assistant ? entityToMessage(assistant) : null,
    };
  }

  /**
   * Stores the assistant's answer, marks the turn's input messages `completed`, moves the head
   * and releases the claim, in one transaction.
   */
  async finishTurn(turn: StartedTurn, result: AssistantResult): Promise<StoredMessage> {
    const stored = await this.db.run(() =>
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
        await this.db.insertMessages(em, [assistant]);
        await this.db.exec(em, SQL.completePending, [now, turn.turnId]);
        await this.db.exec(em, SQL.linkIdempotencyKey, [assistant.id, turn.turnId]);
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
    const stored = await this.db.run(() =>
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
        await this.db.insertMessages(em, [assistant]);
        await this.db.exec(em, SQL.failPending, [failure.errorCode, now, turn.turnId]);
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
    const released = await this.db.exec(em, SQL.endTurn, [
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
      const stale = await this.db.run(() =>
        this.transactions.serially(() =>
          this.db.dataSource.manager
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
        const isReleased = await this.db.run(() =>
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
    await this.db.run(() =>
      this.transactions.serially(() =>
        this.db.dataSource.manager
          .createQueryBuilder()
          .delete()
          .from(IdempotencyKeyEntity)
          .where('created_at < :before', { before })
          .execute(),
      ),
    );
  }
}

/**
 * The statements of a turn, written out rather than built by TypeORM's query builder: the
 * builder costs more CPU than SQLite's own work, and its SQLite driver inlines every number as
 * a literal, so each statement carrying a timestamp was a new SQL text to prepare (see
 * docs/notes/bench.md). `?` marks a bound value (`ConversationSql.sql` numbers them for PostgreSQL).
 */
const SQL = {
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

const notFound = () =>
  new ApiError('conversation_not_found', 'No conversation with this id belongs to you', {
    param: 'conversation_id',
  });

const busy = () =>
  new ApiError('conversation_busy', 'Another turn of this conversation is in progress');

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const raw = e?.driverError?.code ?? e?.code;
  const code = typeof raw === 'string' ? raw : '';
  return code === '23505' || code.startsWith('SQLITE_CONSTRAINT');
}
