import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { SerialTransactions } from 'src/database/serial-transactions';
import { ConversationSql, placeholders } from 'src/modules/conversations/conversation-sql';
import { withStorageErrors } from 'src/modules/responses/storage-errors';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import { entityToMessage } from 'src/modules/conversations/conversation-rows';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { ResponseEntity } from 'src/modules/responses/response.entity';
import { ResponseEventEntity } from 'src/modules/responses/response-event.entity';
import { ResponseSettings } from 'src/modules/responses/response-request';

/** A stored response as services see it. */
export interface ResponseRecord {
  id: string;
  userId: string;
  conversationId: string;
  model: string;
  previousResponseId: string | null;
  settings: ResponseSettings;
  /** `running` while a background generation runs. */
  runState: 'running' | null;
  heartbeatAt: number | null;
  cancelRequestedAt: number | null;
  createdAt: number;
}

const RESPONSE_COLUMNS =
  'id, user_id, conversation_id, model, previous_response_id, request, run_state, ' +
  'heartbeat_at, cancel_requested_at, created_at';
/**
 * The statements of a response's turn and of a background run's event log, written out
 * rather than built by TypeORM, for the reasons of `TurnsRepository`'s (`?` marks a bound
 * value; `ConversationSql` runs them prepared on SQLite and numbers them for PostgreSQL).
 */
const SQL = {
  insertResponse: `INSERT INTO responses (${RESPONSE_COLUMNS}) VALUES (${placeholders(RESPONSE_COLUMNS)})`,
  insertEvent: 'INSERT INTO response_events (response_id, sequence_number, data) VALUES (?, ?, ?)',
  renewHeartbeat: 'UPDATE responses SET heartbeat_at = ? WHERE id = ?',
  endRun: 'UPDATE responses SET run_state = NULL, heartbeat_at = ? WHERE id = ?',
  cancelRequestedAt: 'SELECT cancel_requested_at FROM responses WHERE id = ?',
} as const;

/** A stored event: its sequence number and its JSON. */
export interface StoredEvent {
  sequenceNumber: number;
  data: string;
}

/**
 * The `responses` table, and the reads of the turn tables that the Responses and
 * Conversations APIs need beyond `/c1`'s (a turn's messages, a message by item id). Every
 * read is scoped to the caller's user: another user's ids read as missing.
 */
@Injectable()
export class ResponsesRepository {
  private readonly logger = new Logger('responses');

  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: ConversationSql,
    private readonly transactions: SerialTransactions,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /** Inserts the record inside the turn's transaction (`TurnClaim.onStored`). */
  async insert(em: EntityManager, record: ResponseRecord): Promise<void> {
    await this.tables.exec(em, SQL.insertResponse, [
      record.id,
      record.userId,
      record.conversationId,
      record.model,
      record.previousResponseId,
      JSON.stringify(record.settings),
      record.runState,
      record.heartbeatAt,
      null,
      record.createdAt,
    ]);
  }

  /**
   * Appends events of a running background response and renews its heartbeat, in one
   * transaction; `isFinal` (the last event is among them) ends the run. Resolves with
   * whether a cancel was requested (on any instance).
   */
  async appendEvents(id: string, events: StoredEvent[], isFinal: boolean): Promise<boolean> {
    return this.run(() =>
      this.transactions.inTransaction(async (em) => {
        for (const event of events) {
          await this.tables.exec(em, SQL.insertEvent, [id, event.sequenceNumber, event.data]);
        }
        await this.tables.exec(em, isFinal ? SQL.endRun : SQL.renewHeartbeat, [this.clock(), id]);
        const rows = await this.tables.read(em, SQL.cancelRequestedAt, [id]);
        return rows.length > 0 && rows[0].cancel_requested_at !== null;
      }),
    );
  }

  /** Events after `after`, in order (at most `limit`). */
  async eventsAfter(id: string, after: number, limit: number): Promise<StoredEvent[]> {
    return this.run(async () => {
      const rows = await this.dataSource.manager.find(ResponseEventEntity, {
        where: { responseId: id, sequenceNumber: MoreThan(after) },
        order: { sequenceNumber: 'ASC' },
        take: limit,
      });
      return rows.map((r) => ({ sequenceNumber: r.sequenceNumber, data: r.data }));
    });
  }

  /** The events stored so far (a run resolved after its process died continues from them). */
  async allEvents(id: string): Promise<StoredEvent[]> {
    return this.eventsAfter(id, -1, 1_000_000);
  }

  /** Asks the run to stop; false when the response is not a running background response. */
  async requestCancel(userId: string, id: string): Promise<boolean> {
    return this.run(async () => {
      const result = await this.dataSource.manager
        .createQueryBuilder()
        .update(ResponseEntity)
        .set({ cancelRequestedAt: this.clock() })
        .where("id = :id AND user_id = :userId AND run_state = 'running'", { id, userId })
        .execute();
      return (result.affected ?? 0) > 0;
    });
  }

  /** Running background responses whose heartbeat is older than `cutoff`. */
  async staleRuns(cutoff: number): Promise<ResponseRecord[]> {
    return this.run(async () => {
      const rows = await this.dataSource.manager
        .createQueryBuilder(ResponseEntity, 'r')
        .where("r.run_state = 'running' AND r.heartbeat_at < :cutoff", { cutoff })
        .limit(100)
        .getMany();
      return rows.map(toRecord);
    });
  }

  /**
   * Takes over a stale run (renews its heartbeat if nobody did since `seen`): of several
   * instances sweeping at once, one resolves it.
   */
  async takeOver(id: string, seen: number | null): Promise<boolean> {
    return this.run(async () => {
      const result = await this.dataSource.manager
        .createQueryBuilder()
        .update(ResponseEntity)
        .set({ heartbeatAt: this.clock() })
        .where("id = :id AND run_state = 'running' AND heartbeat_at = :seen", { id, seen })
        .execute();
      return (result.affected ?? 0) > 0;
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

  private run<T>(work: () => Promise<T>): Promise<T> {
    return withStorageErrors(this.logger, work);
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
    runState: row.runState,
    heartbeatAt: row.heartbeatAt,
    cancelRequestedAt: row.cancelRequestedAt,
    createdAt: row.createdAt,
  };
}
