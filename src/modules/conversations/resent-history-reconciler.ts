import { Injectable } from '@nestjs/common';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { anthropicToNeutral } from 'src/modules/proxy/wire/anthropic/neutral-anthropic';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { ConversationRecord, StoredMessage } from 'src/modules/conversations/conversation.types';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { historyMessages, isForwardable } from 'src/modules/conversations/history-chain';
import { reconcileResentHistory, SeenHistory } from 'src/modules/conversations/resent-history';
import { SplitTurn, TurnFields } from 'src/modules/conversations/turn-request';
import { PreparedTurn } from 'src/modules/conversations/turn-wire';

/**
 * Splits a /c1 turn request into system prompt and new messages, reading a resent history
 * (`reconcileResentHistory`) on an existing conversation: the messages that repeat the stored
 * history are dropped, a contradicting history is a 409 `conversation_conflict` whose `param`
 * names the first differing message in the client's body.
 */
@Injectable()
export class ResentHistoryReconciler {
  constructor(
    private readonly cache: HistoryCache,
    private readonly repository: ConversationsRepository,
  ) {}

  /**
   * Whether `sent` (a turn split as for a new conversation) may repeat stored history. Not the
   * ordinary /c1 turn (one new message): that one needs no history read.
   */
  isResent(sent: SplitTurn): boolean {
    return !(
      sent.system === null &&
      sent.messages.length === 1 &&
      sent.messages[0].role !== 'assistant'
    );
  }

  /**
   * The turn to store, of a request that `isResent`. When a resent history was dropped, sets `fields.expectedLastMessageId`
   * (unless the client set it) to the head it was compared with, so that a turn another client
   * added in between makes this one a 409 instead of appending after a history it never saw.
   */
  async reconcile(
    prepared: PreparedTurn,
    conversation: ConversationRecord,
    sent: SplitTurn,
    fields: TurnFields,
  ): Promise<SplitTurn> {
    const stored = await this.seenHistory(conversation.headMessageId);
    const outcome = reconcileResentHistory(stored, sent);
    switch (outcome.kind) {
      case 'new_turn':
        return sent;
      case 'resent':
        fields.expectedLastMessageId ??= conversation.headMessageId;
        return { system: null, messages: sent.messages.slice(outcome.resent) };
      case 'conflict': {
        const params = sentParams(prepared);
        if (outcome.at === 'system') {
          throw new ApiError(
            'conversation_conflict',
            stored.system === null
              ? 'The conversation has no system prompt; the sent history has one (fork the conversation to change it)'
              : "The sent system prompt differs from the conversation's (fork the conversation to change it)",
            { param: params.system },
          );
        }
        const param = params.messages[outcome.index] ?? 'messages';
        throw new ApiError(
          'conversation_conflict',
          `The sent history does not match the stored conversation at ${param}: ${outcome.reason}. Send only the new turn, or the history exactly as stored (GET /c1/conversations/{id})`,
          { param },
        );
      }
    }
  }

  private async seenHistory(headId: string | null): Promise<SeenHistory> {
    const cached = this.cache.get(headId);
    const chain = (cached ? historyMessages(cached) : await this.repository.history(headId)).filter(
      isForwardable,
    );
    const system = chain[0]?.role === 'system' ? chain[0] : null;
    const toNeutral = (m: StoredMessage): NeutralMessage => ({ role: m.role, parts: m.parts });
    return {
      system: system ? toNeutral(system) : null,
      messages: chain.filter((m) => m.role !== 'system').map(toNeutral),
    };
  }
}

/**
 * Where each of the split's messages came from in the client's body. Chat Completions: one
 * message each, after the leading system messages. Anthropic: `system` is its own field, and a
 * user message with `tool_result` blocks becomes several neutral messages.
 */
function sentParams(prepared: PreparedTurn): { system: string; messages: string[] } {
  const client = (prepared as { client?: JsonObject }).client;
  if (client) {
    const raw: unknown[] = Array.isArray(client.messages) ? client.messages : [];
    const messages = raw.flatMap((m, i) =>
      anthropicToNeutral({ messages: [m] }).map(() => `messages[${i}]`),
    );
    return { system: 'system', messages };
  }
  const raw = prepared.chat.body.messages as { role?: unknown }[];
  let leading = 0;
  while (
    leading < raw.length &&
    (raw[leading].role === 'system' || raw[leading].role === 'developer')
  ) {
    leading++;
  }
  return {
    system: 'messages[0]',
    messages: raw.slice(leading).map((_, i) => `messages[${leading + i}]`),
  };
}
