import { linkChain } from 'src/modules/conversations/history-chain';
import { randomUUID } from 'node:crypto';
import { ApiError } from 'src/common/errors/api-error';
import {
  AssistantResult,
  ConversationRecord,
  StoredMessage,
  TurnFailure,
} from 'src/modules/conversations/conversation.types';
import { MessageStatus } from 'src/modules/conversations/message.entity';
import {
  ClaimedTurn,
  ReplayedTurn,
  TurnClaim,
  TurnStore,
} from 'src/modules/conversations/turn-store';

interface KeyRecord {
  fingerprint: string;
  conversationId: string;
  turnId: string;
  assistantMessageId: string | null;
}

/**
 * The turn store in memory, with the SQL store's rules (claims, head checks, Idempotency-Keys,
 * what `finish` and `fail` leave behind), for unit tests of what runs turns. `onStored` is not
 * called: it writes rows of the SQL store's transaction. `isDown` makes every call fail as a
 * database that does not answer.
 */
export class InMemoryTurnStore extends TurnStore {
  readonly conversations = new Map<string, ConversationRecord>();
  readonly messages = new Map<string, StoredMessage>();
  readonly keys = new Map<string, KeyRecord>();
  isDown = false;
  private clock = 1_000;

  claimAndLoad(claim: TurnClaim): Promise<ClaimedTurn | ReplayedTurn> {
    return this.call(() => this.claimNow(claim));
  }

  finish(claimed: ClaimedTurn, result: AssistantResult): Promise<StoredMessage> {
    return this.call(() => {
      const { id, ...fields } = result;
      const assistant = this.end(claimed, {
        ...fields,
        id: id ?? randomUUID(),
        role: 'assistant',
        name: result.name ?? null,
        errorCode: null,
      });
      for (const input of claimed.turn.inputs) {
        this.messages.set(input.id, { ...input, status: 'completed' });
      }
      const key = [...this.keys.values()].find((k) => k.turnId === claimed.turn.turnId);
      if (key) {
        key.assistantMessageId = assistant.id;
      }
      return assistant;
    });
  }

  fail(claimed: ClaimedTurn, failure: TurnFailure): Promise<StoredMessage> {
    return this.call(() => {
      const assistant = this.end(claimed, {
        id: failure.id ?? randomUUID(),
        role: 'assistant',
        parts: [],
        name: null,
        status: 'failed',
        finishReason: null,
        promptTokens: null,
        completionTokens: null,
        tokenEstimate: 0,
        model: failure.model,
        errorCode: failure.errorCode,
      });
      for (const input of claimed.turn.inputs) {
        this.messages.set(input.id, { ...input, status: 'failed', errorCode: failure.errorCode });
      }
      for (const [name, key] of this.keys) {
        if (key.turnId === claimed.turn.turnId) {
          this.keys.delete(name);
        }
      }
      return assistant;
    });
  }

  /** The chain ending at `headId`, oldest first. */
  chain(headId: string | null): StoredMessage[] {
    const chain: StoredMessage[] = [];
    for (let m = headId ? this.messages.get(headId) : undefined; m;) {
      chain.unshift(m);
      m = m.parentId ? this.messages.get(m.parentId) : undefined;
    }
    return chain;
  }

  private claimNow(claim: TurnClaim): ClaimedTurn | ReplayedTurn {
    const now = ++this.clock;
    const keyName = claim.idempotency ? `${claim.userId}/${claim.idempotency.key}` : null;
    const key = keyName ? this.keys.get(keyName) : undefined;
    if (key) {
      return {
        kind: 'replay',
        conversationId: key.conversationId,
        fingerprint: key.fingerprint,
        assistant: key.assistantMessageId ? this.messages.get(key.assistantMessageId)! : null,
      };
    }
    const turnId = randomUUID();
    let conversation: ConversationRecord;
    const rows: StoredMessage[] = [];
    if (claim.conversationId === null) {
      const id = randomUUID();
      conversation = {
        id,
        userId: claim.userId,
        treeId: id,
        title: claim.title ?? null,
        metadata: null,
        model: claim.model,
        headMessageId: null,
        activeTurnId: null,
        activeTurnExpiresAt: null,
        createdAt: now,
        updatedAt: now,
      };
      if (claim.system) {
        rows.push(this.row(claim.system, conversation, null, 0, turnId, 'completed', now));
      }
    } else {
      const found = this.conversations.get(claim.conversationId);
      if (!found || found.userId !== claim.userId) {
        throw new ApiError(
          'conversation_not_found',
          'No conversation with this id belongs to you',
          {
            param: 'conversation_id',
          },
        );
      }
      if (found.activeTurnId) {
        throw new ApiError('conversation_busy', 'Another turn of this conversation is in progress');
      }
      if (claim.expectedLastMessageId && claim.expectedLastMessageId !== found.headMessageId) {
        throw new ApiError('conversation_conflict', 'The conversation moved on', {
          param: 'expected_last_message_id',
        });
      }
      conversation = found;
    }
    const history = [...this.chain(conversation.headMessageId), ...rows];
    claim.accept?.(history);
    let parent = history[history.length - 1] ?? null;
    for (const message of claim.messages) {
      const depth = parent ? parent.depth + 1 : 0;
      parent = this.row(message, conversation, parent?.id ?? null, depth, turnId, 'pending', now);
      rows.push(parent);
    }
    conversation = {
      ...conversation,
      model: claim.model,
      headMessageId: parent.id,
      activeTurnId: turnId,
      activeTurnExpiresAt: now + claim.claimTtlMs,
      updatedAt: now,
    };
    this.conversations.set(conversation.id, conversation);
    for (const row of rows) {
      this.messages.set(row.id, row);
    }
    if (keyName && claim.idempotency) {
      this.keys.set(keyName, {
        fingerprint: claim.idempotency.fingerprint,
        conversationId: conversation.id,
        turnId,
        assistantMessageId: null,
      });
    }
    const inputs = rows.filter((m) => m.status === 'pending');
    const system = rows.find((m) => m.status === 'completed') ?? null;
    const isNew = claim.conversationId === null;
    return {
      kind: 'claimed',
      turn: { conversation, turnId, inputs, system, isNew },
      history: linkChain(history),
    };
  }

  private end(
    claimed: ClaimedTurn,
    fields: Omit<
      StoredMessage,
      'treeId' | 'parentId' | 'depth' | 'turnId' | 'createdAt' | 'updatedAt'
    >,
  ): StoredMessage {
    const { conversation, turnId, inputs } = claimed.turn;
    const current = this.conversations.get(conversation.id);
    if (current?.activeTurnId !== turnId) {
      throw new ApiError('conversation_conflict', 'The conversation changed while this turn ran');
    }
    const last = inputs[inputs.length - 1];
    const now = ++this.clock;
    const assistant: StoredMessage = {
      ...fields,
      treeId: conversation.treeId,
      parentId: last.id,
      depth: last.depth + 1,
      turnId,
      createdAt: now,
      updatedAt: now,
    };
    this.messages.set(assistant.id, assistant);
    this.conversations.set(conversation.id, {
      ...current,
      headMessageId: assistant.id,
      activeTurnId: null,
      activeTurnExpiresAt: null,
      updatedAt: now,
    });
    return assistant;
  }

  private row(
    message: TurnClaim['messages'][number],
    conversation: ConversationRecord,
    parentId: string | null,
    depth: number,
    turnId: string,
    status: MessageStatus,
    now: number,
  ): StoredMessage {
    return {
      id: randomUUID(),
      treeId: conversation.treeId,
      parentId,
      depth,
      turnId,
      role: message.role,
      parts: message.parts,
      name: message.name ?? null,
      status,
      finishReason: null,
      promptTokens: null,
      completionTokens: null,
      tokenEstimate: message.tokenEstimate,
      model: null,
      errorCode: null,
      createdAt: now,
      updatedAt: now,
    };
  }

  private async call<T>(work: () => T): Promise<T> {
    await Promise.resolve();
    if (this.isDown) {
      // As the SQL store wraps what the driver threw.
      throw new ApiError('storage_error', 'The database could not complete the request', {
        cause: new Error('connect ECONNREFUSED 127.0.0.1:5432'),
      });
    }
    return work();
  }
}
