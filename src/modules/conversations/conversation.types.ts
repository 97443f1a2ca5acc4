import type { EntityManager } from 'typeorm';
import { MessageStatus } from 'src/modules/conversations/message.entity';
import { NeutralPart, NeutralRole } from 'src/kernel/neutral-history';

export type ConversationMetadata = Record<string, string>;

/** A conversation as services see it (never a TypeORM entity). */
export interface ConversationRecord {
  id: string;
  userId: string;
  treeId: string;
  title: string | null;
  metadata: ConversationMetadata | null;
  model: string | null;
  headMessageId: string | null;
  activeTurnId: string | null;
  activeTurnExpiresAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface StoredMessage {
  id: string;
  treeId: string;
  parentId: string | null;
  depth: number;
  turnId: string;
  role: NeutralRole;
  parts: NeutralPart[];
  name: string | null;
  status: MessageStatus;
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  tokenEstimate: number;
  model: string | null;
  errorCode: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A message to store: the service has mapped it to the neutral form and counted its tokens. */
export interface NewMessage {
  role: NeutralRole;
  parts: NeutralPart[];
  name?: string | null;
  tokenEstimate: number;
}

export interface StartTurnInput {
  userId: string;
  /** null: create a new conversation holding this turn. */
  conversationId: string | null;
  /** Catalog alias serving this turn; becomes the conversation's model. */
  model: string;
  /** For a new conversation: its title and system prompt. */
  title?: string | null;
  system?: NewMessage | null;
  /** The turn only runs when the conversation's head is this message (409 otherwise). */
  expectedLastMessageId?: string | null;
  /** The new turn: usually one user message (or tool results). At least one. */
  messages: NewMessage[];
  idempotency?: { key: string; fingerprint: string } | null;
  /** How long the claim holds before another turn (or the reaper) may take it over. */
  claimTtlMs: number;
  /**
   * Writes more rows in the turn's transaction (the Responses API's own record of the turn),
   * so they are committed with it or not at all.
   */
  onStored?: (
    em: EntityManager,
    stored: { turnId: string; conversationId: string },
  ) => Promise<void>;
}

export interface StartedTurn {
  conversation: ConversationRecord;
  turnId: string;
  /** The stored input messages (pending), in order; the last one is the new head. */
  inputs: StoredMessage[];
  /** The system prompt stored with a new conversation, if it had one. */
  system: StoredMessage | null;
  /** True when this turn created the conversation. */
  isNew: boolean;
}

export interface AssistantResult {
  /** The message id to store it under, when the caller already named it (a streamed item). */
  id?: string;
  parts: NeutralPart[];
  name?: string | null;
  status: 'completed' | 'incomplete';
  finishReason: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  tokenEstimate: number;
  model: string;
}

export interface TurnFailure {
  /** As `AssistantResult.id`. */
  id?: string;
  errorCode: string;
  model: string;
}

export interface ListCursor {
  updatedAt: number;
  id: string;
}

export interface IdempotencyRecord {
  userId: string;
  key: string;
  fingerprint: string;
  conversationId: string;
  turnId: string;
  assistantMessageId: string | null;
  createdAt: number;
}

export type DeleteOutcome = 'deleted' | 'not_found' | 'busy';
