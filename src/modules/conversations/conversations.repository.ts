import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { newRowId } from 'src/database/row-id';
import { SerialTransactions } from 'src/database/serial-transactions';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import {
  entityToMessage,
  rowToConversation,
  toConversation,
} from 'src/modules/conversations/conversation-rows';
import { ConversationSql } from 'src/modules/conversations/conversation-sql';
import {
  ConversationMetadata,
  ConversationRecord,
  DeleteOutcome,
  ListCursor,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { MessageEntity } from 'src/modules/conversations/message.entity';

const FIND_CONVERSATION = 'SELECT * FROM conversations WHERE id = ? AND user_id = ?';

/**
 * Conversations as things a user owns: read, list, rename, delete, fork. What a turn writes
 * is the turn store's (`TurnsRepository`). Database failures surface as 500 `storage_error`.
 */
@Injectable()
export class ConversationsRepository {
  constructor(
    private readonly db: ConversationSql,
    private readonly transactions: SerialTransactions,
    @Inject(CLOCK) private readonly now: Clock = systemClock,
  ) {}

  async findConversation(userId: string, id: string): Promise<ConversationRecord | null> {
    return this.db.run(async () => {
      const rows: Record<string, unknown>[] = await this.db.dataSource.query(
        this.db.sql(FIND_CONVERSATION),
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
    return this.db.run(async () => {
      const qb = this.db.dataSource.manager
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

  /** The chain of messages ending at `headMessageId`, oldest first. */
  async history(headMessageId: string | null): Promise<StoredMessage[]> {
    if (!headMessageId) {
      return [];
    }
    return this.db.run(() => this.db.chain(headMessageId));
  }

  async findMessage(id: string): Promise<StoredMessage | null> {
    return this.db.run(async () => {
      const row = await this.db.dataSource.manager.findOneBy(MessageEntity, { id });
      return row ? entityToMessage(row) : null;
    });
  }

  async updateConversation(
    userId: string,
    id: string,
    patch: { title?: string | null; metadata?: ConversationMetadata | null },
  ): Promise<ConversationRecord | null> {
    return this.db.run(() =>
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
    return this.db.run(() =>
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
    return this.db.run(() =>
      this.transactions.serially(async () => {
        const now = this.now();
        const row = this.db.dataSource.manager.create(ConversationEntity, {
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
        await this.db.dataSource.manager.insert(ConversationEntity, row);
        return toConversation(row);
      }),
    );
  }
}
