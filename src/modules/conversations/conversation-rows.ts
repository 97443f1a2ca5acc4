import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import {
  ConversationMetadata,
  ConversationRecord,
  NewMessage,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { MessageEntity, MessageStatus } from 'src/modules/conversations/message.entity';
import { NeutralPart, NeutralRole } from 'src/kernel/neutral-history';

export function conversationValues(c: ConversationEntity): unknown[] {
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

export function messageValues(m: MessageEntity): unknown[] {
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

export function newMessageRow(
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

export function toConversation(row: ConversationEntity): ConversationRecord {
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
export function rowToConversation(row: Record<string, unknown>): ConversationRecord {
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
export function rowToMessage(row: Record<string, unknown>): StoredMessage {
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
