import { PreparedChat } from 'src/kernel/prepared-request';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { CallOptions } from 'src/modules/proxy/chat-completions.service';
import { SsePipeResult } from 'src/modules/proxy/sse/sse-pipe';
import { PromptWindow } from 'src/modules/conversations/openai-prompt';
import { SplitTurn } from 'src/modules/conversations/turn-request';
import { TurnAnswer } from 'src/modules/conversations/turn-engine';

/**
 * The wire format a `/c1` turn is spoken in: Chat Completions (`/c1/chat/completions`) or the
 * Anthropic Messages API (`/c1/messages`). The turn engine runs the conversation (claim, store the
 * turn and its answer, idempotency) and `C1TurnService` asks the wire for what
 * depends on the client's format: reading the request, rendering the prompt, calling the
 * upstream and answering in the client's shape. Both wires store the same neutral history, so
 * one conversation can be continued on either endpoint, and on either kind of upstream.
 */
export interface TurnWire<P extends PreparedTurn = PreparedTurn> {
  /**
   * The /v1 checks of this format on the new turn (`param` naming paths in the client's body).
   * `defaultModel` (the conversation's) is used when the body has no `model`.
   */
  prepare(
    auth: AuthContext,
    body: JsonObject,
    context: { defaultModel?: string; headers: IncomingHttpHeaders },
  ): P;
  /** The turn's messages in neutral form, and the system prompt of a new conversation. */
  splitTurn(prepared: P, isNewConversation: boolean): SplitTurn;
  /**
   * Sets what goes upstream to system prompt + history window + the new turn, for either
   * kind of upstream: `chat.body.messages` (openai) and `chat.anthropicBody` or
   * `chat.renderAnthropic` (anthropic).
   */
  renderPrompt(prepared: P, window: PromptWindow): void;
  /** A JSON turn: the client's answer (in its format) and what to store. Throws `ApiError`. */
  complete(prepared: P, options: CallOptions): Promise<{ body: JsonObject; answer: TurnAnswer }>;
  /** A streamed turn written to `reply`; as `ChatCompletionsService.stream`. */
  stream(reply: FastifyReply, prepared: P, options: TurnStreamOptions): Promise<void>;
  /**
   * A stored answer replayed for a repeated Idempotency-Key, from its Chat Completions form:
   * a JSON body, or the complete text of a short SSE stream.
   */
  replay(prepared: P, completion: StoredCompletion): { body: JsonObject } | { sse: string };
}

/** A request checked by a wire: at least its Chat Completions form. */
export interface PreparedTurn {
  chat: PreparedChat;
}

export interface TurnStreamOptions extends CallOptions {
  onClientGone: 'abort' | 'detach';
  /** Response headers (`x-conversation-id`). */
  headers: Record<string, string>;
  /**
   * Awaited before the stream's last bytes (see `StreamChatOptions.beforeEnd`): the turn is
   * stored here, so a client that saw the end finds it stored.
   */
  beforeEnd(result: TurnStreamResult): Promise<ApiError | void>;
  /**
   * Each event's SSE text in the client's format, as it is produced (also after the client
   * left): what `GET /c1/conversations/{id}/stream` replays.
   */
  onSent?(text: string): void;
}

export interface TurnStreamResult extends SsePipeResult {
  /** What arrived (also for a cut stream); null when nothing did. */
  answer: TurnAnswer | null;
}

/** A stored assistant message as a Chat Completions answer (`chat.completion`). */
export interface StoredCompletion {
  /** The stored message's id; each wire prefixes it as its answers' ids look. */
  messageId: string;
  created: number;
  model: string | null;
  message: JsonObject;
  finishReason: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}
