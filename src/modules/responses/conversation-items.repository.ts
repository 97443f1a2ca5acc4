import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { DataSource, EntityManager } from 'typeorm';
import { SerialTransactions } from 'src/database/serial-transactions';
import { ApiError } from 'src/common/errors/api-error';
import { withStorageErrors } from 'src/modules/responses/storage-errors';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import {
  ConversationMetadata,
  NewMessage,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { entityToMessage } from 'src/modules/conversations/conversation-rows';
import { MessageEntity } from 'src/modules/conversations/message.entity';

const busy = () =>
  new ApiError(
    'conversation_busy',
    'A turn of this conversation is in progress; try again after it',
  );

/**
 * The writes of the Conversations API that `/c1` has no turn for: a conversation created with
 * items (or none), items appended without an answer, an item deleted. Same tables and rules as
 * the turn store: messages are never changed once written (the history cache relies on it), a
 * conversation is a pointer to its last message, and a write that moves it is conditional on
 * nobody having moved it (or claimed it for a turn) since it was read.
 */
@Injectable()
export class ConversationItemsRepository {
  private readonly logger = new Logger('responses');

  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: SerialTransactions,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** A new conversation of `userId` holding `messages` (completed), in one transaction. */
  async create(
    userId: string,
    fields: { title: string | null; metadata: ConversationMetadata | null },
    messages: NewMessage[],
  ): Promise<{ id: string; createdAt: number; messages: StoredMessage[] }> {
    return this.run(() =>
      this.transactions.inTransaction(async (em) => {
        const now = this.clock();
        const id = randomUUID();
        const rows = chain(messages, { treeId: id, parentId: null, depth: 0, now });
        await em.insert(ConversationEntity, {
          id,
          userId,
          treeId: id,
          title: fields.title,
          metadata: fields.metadata === null ? null : JSON.stringify(fields.metadata),
          model: null,
          headMessageId: rows.length ? rows[rows.length - 1].id : null,
          activeTurnId: null,
          activeTurnExpiresAt: null,
          createdAt: now,
          updatedAt: now,
        });
        await insertAll(em, rows);
        return { id, createdAt: now, messages: rows.map(entityToMessage) };
      }),
    );
  }

  /**
   * Appends `messages` (completed) after the head the caller read, unless a turn holds the
   * conversation or its head moved since (409 `conversation_busy`).
   */
  async append(
    conversation: { id: string; treeId: string; headMessageId: string | null },
    messages: NewMessage[],
  ): Promise<StoredMessage[]> {
    return this.run(() =>
      this.transactions.inTransaction(async (em) => {
        const now = this.clock();
        const head = conversation.headMessageId
          ? await em.findOneBy(MessageEntity, { id: conversation.headMessageId })
          : null;
        const rows = chain(messages, {
          treeId: conversation.treeId,
          parentId: head?.id ?? null,
          depth: head ? head.depth + 1 : 0,
          now,
        });
        await this.moveHead(em, conversation, rows[rows.length - 1].id, now);
        await insertAll(em, rows);
        return rows.map(entityToMessage);
      }),
    );
  }

  /**
   * Leaves `message` out of the conversation. Stored messages never change, so the messages
   * after it are written again (new ids) on top of its parent and the conversation moves to
   * that copy; the originals stay for the responses and forks that point at them. Deleting
   * the last item (the usual case: a session popping its last item) copies nothing.
   */
  async remove(
    conversation: { id: string; treeId: string; headMessageId: string | null },
    history: StoredMessage[],
    message: StoredMessage,
  ): Promise<void> {
    const at = history.findIndex((m) => m.id === message.id);
    const later = history.slice(at + 1);
    await this.run(() =>
      this.transactions.inTransaction(async (em) => {
        const now = this.clock();
        const rows = chain(later, {
          treeId: conversation.treeId,
          parentId: message.parentId,
          depth: message.depth,
          now,
        });
        // The copies keep what each message was (an answer stays an answer), under a turn id
        // of their own: the responses that wrote the originals still list the originals.
        later.forEach((m, i) => {
          Object.assign(rows[i], {
            status: m.status,
            finishReason: m.finishReason,
            promptTokens: m.promptTokens,
            completionTokens: m.completionTokens,
            model: m.model,
            errorCode: m.errorCode,
            createdAt: m.createdAt,
          });
        });
        const head = rows.length ? rows[rows.length - 1].id : message.parentId;
        await this.moveHead(em, conversation, head, now);
        await insertAll(em, rows);
      }),
    );
  }

  private async moveHead(
    em: EntityManager,
    conversation: { id: string; headMessageId: string | null },
    head: string | null,
    now: number,
  ) {
    const where =
      conversation.headMessageId === null
        ? 'id = :id AND active_turn_id IS NULL AND head_message_id IS NULL'
        : 'id = :id AND active_turn_id IS NULL AND head_message_id = :head';
    const result = await em
      .createQueryBuilder()
      .update(ConversationEntity)
      .set({ headMessageId: head, updatedAt: now })
      .where(where, { id: conversation.id, head: conversation.headMessageId })
      .execute();
    if (!result.affected) {
      throw busy();
    }
  }

  private run<T>(work: () => Promise<T>): Promise<T> {
    return withStorageErrors(this.logger, work);
  }
}

/** Message rows, each the parent of the next, starting after `at.parentId`. */
function chain(
  messages: NewMessage[],
  at: { treeId: string; parentId: string | null; depth: number; now: number },
): MessageEntity[] {
  const turnId = randomUUID();
  let parentId = at.parentId;
  return messages.map((m, i) => {
    const row = Object.assign(new MessageEntity(), {
      id: randomUUID(),
      treeId: at.treeId,
      parentId,
      depth: at.depth + i,
      turnId,
      role: m.role,
      content: JSON.stringify(m.parts),
      name: m.name ?? null,
      status: 'completed',
      finishReason: null,
      promptTokens: null,
      completionTokens: null,
      tokenEstimate: m.tokenEstimate,
      model: null,
      errorCode: null,
      createdAt: at.now,
      updatedAt: at.now,
    } satisfies MessageEntity);
    parentId = row.id;
    return row;
  });
}

async function insertAll(em: EntityManager, rows: MessageEntity[]): Promise<void> {
  for (const row of rows) {
    await em.insert(MessageEntity, row);
  }
}
