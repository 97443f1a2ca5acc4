import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { assertStorableText } from 'src/common/validation/storable-text';
import { ApiError } from 'src/common/errors/api-error';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { openAIToNeutral } from 'src/modules/proxy/wire/openai/openai-neutral';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import {
  ConversationRecord,
  NewMessage,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { isForwardable } from 'src/modules/conversations/history-chain';
import { estimateTokens } from 'src/modules/conversations/history-window';
import { firstUserText } from 'src/modules/conversations/turn-request';
import { ConversationItemsRepository } from 'src/modules/responses/conversation-items.repository';
import { ItemPageQuery, listOf, pageItems } from 'src/modules/responses/item-page';
import {
  inputToChatMessages,
  parseItemId,
  pickItem,
  storedToItems,
} from 'src/modules/responses/response-items';
import { conversationIdOf, parseConversationId } from 'src/modules/conversations/conversation-id';
import { readMetadata, restateParam } from 'src/modules/responses/response-request';

/** At most this many items per create or append call (as OpenAI). */
export const MAX_ITEMS_PER_CALL = 20;

const conversationNotFound = () =>
  new ApiError('conversation_not_found', 'No conversation with this id belongs to you', {
    param: null,
  });

const itemNotFound = () =>
  new ApiError('conversation_not_found', 'No item with this id in this conversation', {
    param: 'item_id',
  });

/**
 * OpenAI's Conversations API over the `/c1` conversations: the same rows, so a conversation
 * created here is continued on `/c1` or `/v1/responses` and the other way round. Its items
 * are the forwardable messages of the conversation's history (failed turns left out), in the
 * shapes of `response-items.ts`.
 */
@Injectable()
export class ConversationsApiService {
  constructor(
    private readonly conversations: ConversationsRepository,
    private readonly items: ConversationItemsRepository,
  ) {}

  async create(auth: AuthContext, rawBody: unknown): Promise<JsonObject> {
    const body = requireJsonObject(rawBody ?? {});
    const metadata = readMetadata(body.metadata);
    const messages = body.items === undefined || body.items === null ? [] : this.read(body.items);
    const created = await this.items.create(
      auth.userId,
      { title: defaultTitle(firstUserText(messages.map(asNeutral))), metadata },
      messages,
    );
    return toConversationObject({
      id: created.id,
      createdAt: created.createdAt,
      metadata,
    });
  }

  async get(auth: AuthContext, id: string): Promise<JsonObject> {
    return toConversationObject(await this.findOwned(auth, id));
  }

  async update(auth: AuthContext, id: string, rawBody: unknown): Promise<JsonObject> {
    const body = requireJsonObject(rawBody);
    if (body.metadata === undefined) {
      throw new ApiError('missing_field', 'metadata is required', { param: 'metadata' });
    }
    const conversation = await this.findOwned(auth, id);
    const updated = await this.conversations.updateConversation(auth.userId, conversation.id, {
      metadata: readMetadata(body.metadata),
    });
    if (!updated) {
      throw conversationNotFound();
    }
    return toConversationObject(updated);
  }

  async delete(auth: AuthContext, id: string): Promise<JsonObject> {
    const conversation = await this.findOwned(auth, id);
    const outcome = await this.conversations.deleteConversation(auth.userId, conversation.id);
    if (outcome === 'busy') {
      throw new ApiError('conversation_busy', 'A turn of this conversation is in progress');
    }
    if (outcome === 'not_found') {
      throw conversationNotFound();
    }
    return { id: conversationIdOf(conversation.id), object: 'conversation.deleted', deleted: true };
  }

  async addItems(auth: AuthContext, id: string, rawBody: unknown): Promise<JsonObject> {
    const body = requireJsonObject(rawBody);
    if (body.items === undefined || body.items === null) {
      throw new ApiError('missing_field', 'items is required', { param: 'items' });
    }
    const messages = this.read(body.items);
    if (messages.length === 0) {
      throw new ApiError('invalid_field', 'items must hold at least one item', { param: 'items' });
    }
    const conversation = await this.findOwned(auth, id);
    const stored = await this.items.append(conversation, messages);
    return listOf(stored.flatMap(storedToItems));
  }

  async listItems(auth: AuthContext, id: string, query: ItemPageQuery): Promise<JsonObject> {
    const { history } = await this.itemsOf(auth, id);
    return pageItems(history.flatMap(storedToItems), query, 'desc');
  }

  async getItem(auth: AuthContext, id: string, itemId: string): Promise<JsonObject> {
    const { history } = await this.itemsOf(auth, id);
    const { item } = findItem(history, itemId);
    return item;
  }

  /** Leaves the item's message out of the conversation; answers the conversation. */
  async deleteItem(auth: AuthContext, id: string, itemId: string): Promise<JsonObject> {
    const { conversation, history, all } = await this.itemsOf(auth, id);
    const { message } = findItem(history, itemId);
    await this.items.remove(conversation, all, message);
    return toConversationObject(conversation);
  }

  private async findOwned(auth: AuthContext, id: string): Promise<ConversationRecord> {
    const uuid = parseConversationId(id);
    const conversation = uuid ? await this.conversations.findConversation(auth.userId, uuid) : null;
    if (!conversation) {
      throw conversationNotFound();
    }
    return conversation;
  }

  /** The conversation, its whole chain (`all`) and the messages that are items (`history`). */
  private async itemsOf(auth: AuthContext, id: string) {
    const conversation = await this.findOwned(auth, id);
    const all = await this.conversations.history(conversation.headMessageId);
    return { conversation, all, history: all.filter(isForwardable) };
  }

  /** Items as stored messages (`item_reference` is for responses only). */
  private read(items: unknown): NewMessage[] {
    if (!Array.isArray(items)) {
      throw new ApiError('invalid_field', 'items must be an array', { param: 'items' });
    }
    if (items.length > MAX_ITEMS_PER_CALL) {
      throw new ApiError('invalid_field', `items may hold at most ${MAX_ITEMS_PER_CALL} items`, {
        param: 'items',
      });
    }
    let messages;
    try {
      messages = inputToChatMessages(items);
    } catch (error) {
      throw inItemsTerms(error);
    }
    assertStorableText(items, 'items');
    return messages.map((m) => {
      const neutral = openAIToNeutral(m);
      return {
        role: neutral.role,
        parts: neutral.parts,
        name: neutral.name ?? null,
        tokenEstimate: estimateTokens(neutral),
      };
    });
  }
}

function findItem(history: StoredMessage[], itemId: string) {
  const ref = parseItemId(itemId);
  const message = ref ? history.find((m) => m.id === ref.messageId) : undefined;
  const item = message && ref ? pickItem(message, ref) : null;
  if (!message || !item) {
    throw itemNotFound();
  }
  return { message, item };
}

function toConversationObject(c: {
  id: string;
  createdAt: number;
  metadata: Record<string, string> | null;
}): JsonObject {
  return {
    id: conversationIdOf(c.id),
    object: 'conversation',
    created_at: Math.floor(c.createdAt / 1000),
    metadata: c.metadata ?? {},
  };
}

function inItemsTerms(error: unknown): unknown {
  return restateParam(error, (param) => param.replace(/^input/, 'items'));
}

const asNeutral = (m: NewMessage) => ({ role: m.role, parts: m.parts });
