import { Injectable, Logger } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ApiError } from 'src/modules/errors/api-error';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import { entityToMessage } from 'src/modules/conversations/conversations.repository';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { ResponseEntity } from 'src/modules/responses/response.entity';
import { ResponseSettings } from 'src/modules/responses/response-request';

/** A stored response as services see it. */
export interface ResponseRecord {
  id: string;
  userId: string;
  conversationId: string;
  model: string;
  previousResponseId: string | null;
  settings: ResponseSettings;
  createdAt: number;
}

/**
 * The `responses` table, and the reads of the turn tables that the Responses and
 * Conversations APIs need beyond `/c1`'s (a turn's messages, a message by item id). Every
 * read is scoped to the caller's user: another user's ids read as missing.
 */
@Injectable()
export class ResponsesRepository {
  private readonly logger = new Logger('responses');

  constructor(private readonly dataSource: DataSource) {}

  /** Inserts the record inside the turn's transaction (`StartTurnInput.onStored`). */
  async insert(em: EntityManager, record: ResponseRecord): Promise<void> {
    await em.insert(ResponseEntity, {
      id: record.id,
      userId: record.userId,
      conversationId: record.conversationId,
      model: record.model,
      previousResponseId: record.previousResponseId,
      request: JSON.stringify(record.settings),
      createdAt: record.createdAt,
    });
  }

  async findOwned(userId: string, id: string): Promise<ResponseRecord | null> {
    return this.run(async () => {
      const row = await this.dataSource.manager.findOneBy(ResponseEntity, { id, userId });
      return row ? toRecord(row) : null;
    });
  }

  /** Deletes the record (the turn's messages stay in their conversation). */
  async deleteOwned(userId: string, id: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.dataSource.manager.delete(ResponseEntity, { id, userId });
      return (result.affected ?? 0) > 0;
    });
  }

  /** The messages a turn stored (inputs, then the answer once there is one), in order. */
  async turnMessages(turnId: string): Promise<StoredMessage[]> {
    return this.run(async () => {
      const rows = await this.dataSource.manager.find(MessageEntity, {
        where: { turnId },
        order: { depth: 'ASC' },
      });
      return rows.map(entityToMessage);
    });
  }

  /** A message of one of the user's conversations (any branch of their trees), or null. */
  async findOwnedMessage(userId: string, id: string): Promise<StoredMessage | null> {
    return this.run(async () => {
      const row = await this.dataSource.manager.findOneBy(MessageEntity, { id });
      if (!row) {
        return null;
      }
      const owner = await this.dataSource.manager.findOne(ConversationEntity, {
        select: { id: true },
        where: { treeId: row.treeId, userId },
      });
      return owner ? entityToMessage(row) : null;
    });
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ApiError) {
        throw error;
      }
      this.logger.error(
        `storage failure: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new ApiError('storage_error', 'The database could not complete the request', {
        cause: error,
      });
    }
  }
}

function toRecord(row: ResponseEntity): ResponseRecord {
  return {
    id: row.id,
    userId: row.userId,
    conversationId: row.conversationId,
    model: row.model,
    previousResponseId: row.previousResponseId,
    settings: JSON.parse(row.request) as ResponseSettings,
    createdAt: row.createdAt,
  };
}
