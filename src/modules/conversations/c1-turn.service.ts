import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { JSON_TYPE } from 'src/common/http/headers';
import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { watchHangUp } from 'src/modules/proxy/hang-up';
import { neutralToOpenAI } from 'src/modules/proxy/wire/openai/openai-neutral';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import { ConversationRecord } from 'src/modules/conversations/conversation.types';
import { parseConversationId } from 'src/modules/conversations/conversation-id';
import {
  conversationNotFound,
  ConversationsService,
} from 'src/modules/conversations/conversations.service';
import { LiveTurns } from 'src/modules/conversations/live-turns';
import { selectChainWindow } from 'src/modules/conversations/history-window';
import { ResentHistoryReconciler } from 'src/modules/conversations/resent-history-reconciler';
import { CLAIM_MARGIN_MS } from 'src/modules/conversations/turn-reaper';
import {
  ForwardedTurn,
  StoredReplay,
  TurnEngine,
  TurnSink,
} from 'src/modules/conversations/turn-engine';
import { toNeutral, toNew } from 'src/modules/conversations/turn-messages';
import {
  firstUserText,
  readIdempotencyKey,
  requestFingerprint,
  SplitTurn,
  takeTurnFields,
} from 'src/modules/conversations/turn-request';
import { IDEMPOTENCY_TTL_MS, TurnsRepository } from 'src/modules/conversations/turns.repository';
import { PreparedTurn, TurnStreamResult, TurnWire } from 'src/modules/conversations/turn-wire';

/**
 * The `/c1` adapter of the turn engine (`POST /c1/chat/completions`, `POST /c1/messages`):
 * turns the request into a `TurnCommand` (the /v1 checks of the endpoint's `TurnWire` on the
 * new turn, the conversation fields, the Idempotency-Key) and answers through a `C1TurnSink`
 * in the endpoint's format, JSON or SSE.
 *
 * The conversation is read ahead of the engine's claim only when the request needs it first:
 * a body without `model` (the conversation's is the default), or one that resends history
 * (`ResentHistoryReconciler` keeps only its new messages). Otherwise the claim finds it.
 */
@Injectable()
export class C1TurnService {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly conversations: ConversationsService,
    private readonly turns: TurnsRepository,
    private readonly engine: TurnEngine,
    private readonly resentHistory: ResentHistoryReconciler,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly liveTurns: LiveTurns,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async handle<P extends PreparedTurn>(
    wire: TurnWire<P>,
    auth: AuthContext,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const body = requireJsonObject(request.body);
    const fields = takeTurnFields(body, request.headers[HEADER.conversationId]);
    const idempotencyKey = readIdempotencyKey(request.headers[HEADER.idempotencyKey]);
    const fingerprint = idempotencyKey ? requestFingerprint(fields, body) : null;
    const idempotency = idempotencyKey && fingerprint ? { key: idempotencyKey, fingerprint } : null;

    if (fields.conversationId !== null && !parseConversationId(fields.conversationId)) {
      throw conversationNotFound('conversation_id');
    }
    const readConversation = (id: string) =>
      this.conversations.findOwned(auth, id, 'conversation_id');
    let conversation: ConversationRecord | null = null;
    if (fields.conversationId && (body.model === undefined || body.model === null)) {
      conversation = await readConversation(fields.conversationId);
    }
    const prepared = wire.prepare(auth, body, {
      defaultModel: conversation?.model ?? undefined,
      headers: request.headers,
    });
    request.modelAlias = prepared.chat.model.alias;

    let split: SplitTurn = wire.splitTurn(prepared, true);
    if (fields.conversationId && this.resentHistory.isResent(split)) {
      // A retried resend must find its stored answer (the claim replays it), not a history
      // that has grown by it.
      const isReplay =
        idempotency !== null &&
        (await this.turns.findIdempotencyKey(
          auth.userId,
          idempotency.key,
          this.clock() - IDEMPOTENCY_TTL_MS,
        )) !== null;
      if (!isReplay) {
        conversation ??= await readConversation(fields.conversationId);
        split = await this.resentHistory.reconcile(prepared, conversation, split, fields);
      }
    }

    const sink = new C1TurnSink(this.chat, this.liveTurns, wire, prepared, request, reply);
    await this.engine.run(
      {
        model: prepared.chat.model.alias,
        onClientGone: request.headers[HEADER.onDisconnect] === 'cancel' ? 'abort' : 'detach',
        log: request.log,
        claim: {
          userId: auth.userId,
          conversationId: fields.conversationId,
          model: prepared.chat.model.alias,
          title: fields.conversationId ? undefined : defaultTitle(firstUserText(split.messages)),
          system: split.system ? toNew(split.system) : null,
          expectedLastMessageId: fields.expectedLastMessageId,
          messages: split.messages.map(toNew),
          idempotency,
          claimTtlMs: this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
        },
      },
      sink,
    );
  }
}

/**
 * A `/c1` turn's answer in its endpoint's format, with the turn's hang-up policy applied to
 * its client: `detach` reads a JSON or streamed answer to its end and stores it after the
 * client left; `abort` (`x-on-disconnect: cancel`) stops the upstream when it leaves.
 */
class C1TurnSink<P extends PreparedTurn> implements TurnSink {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly liveTurns: LiveTurns,
    private readonly wire: TurnWire<P>,
    private readonly prepared: P,
    private readonly request: FastifyRequest,
    private readonly reply: FastifyReply,
  ) {}

  /** System prompt + history window + the new turn, oldest turns left out when it is full. */
  render(turn: ForwardedTurn): void {
    const prepared = this.prepared;
    const body = prepared.chat.body;
    const c = prepared.chat.model.constraints;
    const requested = body.max_completion_tokens ?? body.max_tokens;
    const reserved = typeof requested === 'number' ? requested : c.maxOutputTokens;
    const window = selectChainWindow(turn.history, turn.inputs, c.contextWindow - reserved);
    this.wire.renderPrompt(
      prepared,
      window.kind === 'whole'
        ? { history: window.history, after: window.turn.map(toNeutral) }
        : { history: null, after: window.messages.map(toNeutral) },
    );
    if (window.omitted > 0) {
      prepared.chat.applied.push(`history_truncated=${window.omitted}`);
    }
  }

  forward(turn: ForwardedTurn): Promise<void> {
    return this.prepared.chat.isStream ? this.stream(turn) : this.json(turn);
  }

  private async json(turn: ForwardedTurn): Promise<void> {
    const conversationId = turn.claimed!.turn.conversation.id;
    const hangUp = turn.onClientGone === 'abort' ? watchHangUp(this.reply) : null;
    let completed;
    try {
      completed = await this.wire.complete(this.prepared, {
        signal: hangUp ? anyOf(hangUp.signal, turn.shutdown) : turn.shutdown,
        requestId: String(this.request.id),
        log: this.request.log,
        affinityKey: conversationId,
      });
    } catch (thrown) {
      // Cut by the shutdown: answered as such, not as "cancelled by the client".
      const shutdown = turn.shutdown;
      throw shutdown.aborted && shutdown.reason instanceof ApiError ? shutdown.reason : thrown;
    } finally {
      hangUp?.dispose();
    }
    const settled = await turn.settle({ status: 'completed', answer: completed.answer });
    if (settled.error) {
      throw settled.error;
    }
    completed.body.conversation_id = conversationId;
    this.sendJson(conversationId, completed.body);
  }

  private async stream(turn: ForwardedTurn): Promise<void> {
    const { conversation, turnId } = turn.claimed!.turn;
    // What the client is sent, kept while the turn runs for clients that reattach.
    const live = this.liveTurns.start(conversation.id, turnId);
    try {
      await this.wire.stream(this.reply, this.prepared, {
        onSent: (text) => live.push(text),
        onClientGone: turn.onClientGone,
        signal: turn.shutdown,
        headers: { [HEADER.conversationId]: conversation.id },
        requestId: String(this.request.id),
        log: this.request.log,
        affinityKey: conversation.id,
        // Runs before the stream's last bytes: a client that saw the end finds the turn stored.
        beforeEnd: (result) => this.settleStreamed(turn, result),
      });
    } finally {
      this.liveTurns.finish(conversation.id, live);
    }
  }

  /**
   * `incomplete` (the upstream cut the stream, a timeout, a cancelled client): what arrived is
   * kept and marked. Returns the `storage_error` to end the stream with when the answer cannot
   * be stored.
   */
  private async settleStreamed(
    turn: ForwardedTurn,
    result: TurnStreamResult,
  ): Promise<ApiError | void> {
    const answer = result.answer;
    if (result.outcome === 'failed' || !answer) {
      // The stream already ends with the upstream's error event.
      await turn.settle({ status: 'failed', errorCode: result.error?.code ?? 'upstream_error' });
      return;
    }
    const status = result.outcome === 'completed' ? 'completed' : 'incomplete';
    const settled = await turn.settle({ status, answer });
    return settled.error ?? undefined;
  }

  /**
   * A repeated Idempotency-Key: the stored answer, in the shape the client asked for (the
   * endpoint's format, JSON or a short SSE stream), without calling the upstream.
   */
  replay(replayed: StoredReplay): void {
    const assistant = replayed.assistant;
    const [message] = neutralToOpenAI(toNeutral(assistant));
    const answer = this.wire.replay(this.prepared, {
      messageId: assistant.id,
      created: Math.floor(assistant.createdAt / 1000),
      model: assistant.model,
      message: message,
      finishReason: assistant.finishReason,
      usage:
        assistant.promptTokens === null
          ? null
          : {
              prompt_tokens: assistant.promptTokens,
              completion_tokens: assistant.completionTokens ?? 0,
              total_tokens: assistant.promptTokens + (assistant.completionTokens ?? 0),
            },
    });
    const headers = { [HEADER.idempotentReplayed]: 'true' };
    if ('body' in answer) {
      answer.body.conversation_id = replayed.conversationId;
      this.sendJson(replayed.conversationId, answer.body, headers);
      return;
    }
    void this.reply
      .status(200)
      .headers({ ...SSE_HEADERS, ...headers })
      .header(HEADER.conversationId, replayed.conversationId)
      .send(answer.sse);
  }

  private sendJson(
    conversationId: string,
    json: JsonObject,
    extraHeaders: Record<string, string> = {},
  ) {
    const applied = this.chat.appliedHeader(this.prepared.chat);
    if (applied) {
      void this.reply.header(HEADER.applied, applied);
    }
    void this.reply
      .status(200)
      .headers(extraHeaders)
      .header(HEADER.conversationId, conversationId)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify(json));
  }
}

/** One signal that aborts when either of two does (the client's hang-up, the shutdown). */
function anyOf(first: CancelSignal, second: CancelSignal): Cancellation {
  const both = new Cancellation();
  both.follow(first);
  both.follow(second);
  return both;
}
