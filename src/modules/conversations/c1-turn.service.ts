import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { watchHangUp } from 'src/modules/proxy/hang-up';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { neutralToOpenAI } from 'src/modules/proxy/wire/openai/openai-neutral';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import {
  AssistantResult,
  ConversationRecord,
  IdempotencyRecord,
  NewMessage,
  StartedTurn,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { IDEMPOTENCY_TTL_MS, TurnsRepository } from 'src/modules/conversations/turns.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { LiveTurns } from 'src/modules/conversations/live-turns';
import { estimateTokens, selectHistoryWindow } from 'src/modules/conversations/history-window';
import { ResentHistoryReconciler } from 'src/modules/conversations/resent-history-reconciler';
import { CLAIM_MARGIN_MS, TurnReaper } from 'src/modules/conversations/turn-reaper';
import {
  firstUserText,
  readIdempotencyKey,
  requestFingerprint,
  takeTurnFields,
} from 'src/modules/conversations/turn-request';
import {
  PreparedTurn,
  TurnAnswer,
  TurnStreamResult,
  TurnWire,
} from 'src/modules/conversations/turn-wire';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A turn in progress: what was stored at its start, and the history it extends. */
interface StoredTurn {
  turn: StartedTurn;
  prior: StoredMessage[];
}

/** A stored turn on its way upstream: what the JSON and the streamed path both need. */
interface TurnRun<P extends PreparedTurn> {
  wire: TurnWire<P>;
  stored: StoredTurn;
  prepared: P;
  request: FastifyRequest;
  reply: FastifyReply;
  /** `x-on-disconnect: cancel`. */
  isCancelOnHangUp: boolean;
  /** Aborted at the end of a shutdown's grace period. */
  shutdown: AbortSignal;
}

/**
 * Neutral forms of stored messages, one per message object for as long as it lives (the
 * history cache holds the messages of recent chains): the wires keep their renderings with
 * these objects, so a turn on a long conversation renders only its new messages.
 */
const neutralForms = new WeakMap<StoredMessage, NeutralMessage>();

function toNeutral(m: StoredMessage): NeutralMessage {
  let neutral = neutralForms.get(m);
  if (!neutral) {
    neutral = { role: m.role, parts: m.parts, ...(m.name ? { name: m.name } : {}) };
    neutralForms.set(m, neutral);
  }
  return neutral;
}

/** A neutral message to store, its size counted once. */
export const toNew = (m: NeutralMessage): NewMessage => ({
  role: m.role,
  parts: m.parts,
  name: m.name ?? null,
  tokenEstimate: estimateTokens(m),
});

/**
 * A `/c1` turn (`POST /c1/chat/completions`, `POST /c1/messages`): a turn whose history the
 * gateway keeps, in the wire format of the endpoint (`TurnWire`: Chat Completions or Anthropic
 * Messages). Built on the /v1 engines (validation, upstream client, error mapping, SSE pipe,
 * usage reporting); this class adds the conversation around them, in this order:
 *
 * 1. validate (the /v1 checks, on the new turn only) and resolve the conversation (404 for
 *    anyone else's);
 * 2. store the turn's messages `pending` and claim the conversation, committed before
 *    anything goes upstream (409 `conversation_busy` / `conversation_conflict`);
 * 3. forward system prompt + history (completed and incomplete turns) + the new turn,
 *    rendered from the neutral form for the upstream's format, oldest turns left out when the
 *    window is full;
 * 4. store the answer and complete the turn in one transaction, then answer. An upstream
 *    failure marks the turn `failed` and returns the catalog error.
 *
 * A turn whose client hangs up is read to its end and stored (unless `x-on-disconnect:
 * cancel`). Every turn is tracked by the lifecycle until it is stored: a shutdown waits for
 * it, and when the grace period runs out aborts its upstream and stores what arrived.
 */
@Injectable()
export class C1TurnService {
  private readonly logger = new Logger('conversations');

  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly repository: ConversationsRepository,
    private readonly turns: TurnsRepository,
    private readonly conversations: ConversationsService,
    private readonly cache: HistoryCache,
    private readonly lifecycle: LifecycleService,
    private readonly reaper: TurnReaper,
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
    // Cut at the end of a shutdown's grace period: a stream ends with this error as its final
    // event, a JSON turn answers it (not "cancelled by the client", which nobody did).
    const shutdown = new AbortController();
    const work = this.lifecycle.track('turn', () => shutdown.abort(shutdownError()));
    try {
      await this.turn(wire, auth, request, reply, shutdown.signal);
    } finally {
      work.done();
    }
  }

  private async turn<P extends PreparedTurn>(
    wire: TurnWire<P>,
    auth: AuthContext,
    request: FastifyRequest,
    reply: FastifyReply,
    shutdown: AbortSignal,
  ) {
    const body = requireJsonObject(request.body);
    const fields = takeTurnFields(body, request.headers[HEADER.conversationId]);
    const idempotencyKey = readIdempotencyKey(request.headers[HEADER.idempotencyKey]);
    const fingerprint = idempotencyKey ? requestFingerprint(fields, body) : null;
    const isCancelOnHangUp = request.headers[HEADER.onDisconnect] === 'cancel';

    const conversation = fields.conversationId
      ? await this.conversations.findOwned(auth, fields.conversationId, 'conversation_id')
      : null;
    const prepared = wire.prepare(auth, body, {
      defaultModel: conversation?.model ?? undefined,
      headers: request.headers,
    });
    request.modelAlias = prepared.chat.model.alias;

    if (idempotencyKey && fingerprint) {
      const previous = await this.turns.findIdempotencyKey(
        auth.userId,
        idempotencyKey,
        this.clock() - IDEMPOTENCY_TTL_MS,
      );
      if (previous) {
        await this.replay(wire, previous, fingerprint, prepared, reply);
        return;
      }
    }

    // After the replay check: a retried resend must find its stored answer, not a history
    // that has grown by it.
    const split = await this.resentHistory.splitTurn(wire, prepared, conversation, fields);
    const turn = await this.turns.startTurn({
      userId: auth.userId,
      conversationId: conversation?.id ?? null,
      model: prepared.chat.model.alias,
      title: conversation ? undefined : defaultTitle(firstUserText(split.messages)),
      system: split.system ? toNew(split.system) : null,
      expectedLastMessageId: fields.expectedLastMessageId,
      messages: split.messages.map(toNew),
      idempotency: idempotencyKey && fingerprint ? { key: idempotencyKey, fingerprint } : null,
      claimTtlMs: this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
    });
    const stored: StoredTurn = { turn, prior: [] };
    stored.prior = await this.failTurnOnError(stored, prepared, () =>
      this.buildPrompt(wire, turn, conversation, prepared),
    );
    const run: TurnRun<P> = { wire, stored, prepared, request, reply, isCancelOnHangUp, shutdown };
    if (prepared.chat.isStream) {
      await this.streamTurn(run);
    } else {
      await this.jsonTurn(run);
    }
  }

  /**
   * Has the wire render system prompt + history window + the new turn; returns the history
   * the turn extends.
   */
  private async buildPrompt<P extends PreparedTurn>(
    wire: TurnWire<P>,
    turn: StartedTurn,
    conversation: ConversationRecord | null,
    prepared: P,
  ): Promise<StoredMessage[]> {
    const parentId = turn.inputs[0].parentId;
    const prior = conversation
      ? (this.cache.get(parentId) ?? (await this.repository.history(parentId)))
      : turn.system
        ? [turn.system]
        : [];
    const body = prepared.chat.body;
    const c = prepared.chat.model.constraints;
    const requested = body.max_completion_tokens ?? body.max_tokens;
    const reserved = typeof requested === 'number' ? requested : c.maxOutputTokens;
    const window = selectHistoryWindow(prior, turn.inputs, c.contextWindow - reserved);
    wire.renderPrompt(prepared, window.messages.map(toNeutral));
    if (window.omitted > 0) {
      prepared.chat.applied.push(`history_truncated=${window.omitted}`);
    }
    return prior;
  }

  /** Stores the answer and remembers the finished chain for the next turn. */
  private async finish(stored: StoredTurn, result: AssistantResult): Promise<void> {
    const { turn, prior } = stored;
    const assistant = await this.turns.finishTurn(turn, result);
    const inputs = turn.inputs.map((m) => ({ ...m, status: 'completed' as const }));
    this.cache.set([...prior, ...inputs, assistant]);
  }

  private async fail(stored: StoredTurn, errorCode: ErrorCode, prepared: PreparedTurn) {
    const { turn, prior } = stored;
    const assistant = await this.turns.failTurn(turn, {
      errorCode,
      model: prepared.chat.model.alias,
    });
    const inputs = turn.inputs.map((m) => ({ ...m, status: 'failed' as const, errorCode }));
    this.cache.set([...prior, ...inputs, assistant]);
  }

  private async jsonTurn<P extends PreparedTurn>(run: TurnRun<P>): Promise<void> {
    const { wire, stored, prepared, request, reply, isCancelOnHangUp, shutdown } = run;
    // By default a JSON turn runs to its end even if the client leaves, so that its answer is
    // stored; `x-on-disconnect: cancel` aborts the upstream instead (the turn is then failed).
    const turn = stored.turn;
    const hangUp = isCancelOnHangUp ? watchHangUp(reply) : null;
    let completed: { body: JsonObject; answer: TurnAnswer };
    try {
      completed = await wire.complete(prepared, {
        signal: hangUp ? anyOf(hangUp.signal, shutdown) : shutdown,
        requestId: String(request.id),
        affinityKey: turn.conversation.id,
      });
    } catch (thrown) {
      const error =
        shutdown.aborted && shutdown.reason instanceof ApiError ? shutdown.reason : thrown;
      await this.failQuietly(stored, prepared, error);
      throw error;
    } finally {
      hangUp?.dispose();
    }
    await this.failTurnOnError(stored, prepared, () =>
      this.finish(stored, this.assistantResult(completed.answer, 'completed', prepared)),
    );
    completed.body.conversation_id = turn.conversation.id;
    this.sendJson(reply, turn.conversation.id, prepared, completed.body);
  }

  private async streamTurn<P extends PreparedTurn>(run: TurnRun<P>): Promise<void> {
    const { wire, stored, prepared, request, reply, isCancelOnHangUp, shutdown } = run;
    const turn = stored.turn;
    // What the client is sent, kept while the turn runs for clients that reattach.
    const live = this.liveTurns.start(turn.conversation.id, turn.turnId);
    // The upstream failed before anything was sent: a plain HTTP error, turn failed.
    await this.failTurnOnError(stored, prepared, () =>
      wire.stream(reply, prepared, {
        onSent: (text) => live.push(text),
        onClientGone: isCancelOnHangUp ? 'abort' : 'detach',
        signal: shutdown,
        headers: { [HEADER.conversationId]: turn.conversation.id },
        requestId: String(request.id),
        affinityKey: turn.conversation.id,
        // Runs before the stream's last bytes: a client that saw the end finds the turn stored.
        beforeEnd: (result) => this.storeStreamed(stored, prepared, result),
      }),
    ).finally(() => this.liveTurns.finish(turn.conversation.id, live));
  }

  /**
   * Stores a streamed answer. `incomplete` (the upstream cut the stream, a timeout, a cancelled
   * client): what arrived is kept and marked, and the user turn counts as completed. Returns
   * the `storage_error` to end the stream with when the answer cannot be stored (the turn is
   * then marked failed, now or by the reaper).
   */
  private async storeStreamed(
    stored: StoredTurn,
    prepared: PreparedTurn,
    result: TurnStreamResult,
  ): Promise<ApiError | void> {
    const answer = result.answer;
    if (result.outcome === 'failed' || !answer) {
      // The stream already ends with the upstream's error event.
      const error =
        result.error ??
        new ApiError(
          'upstream_error',
          `The model server for "${prepared.chat.model.alias}" answered without a choice`,
        );
      await this.failQuietly(stored, prepared, error);
      return;
    }
    const status = result.outcome === 'completed' ? 'completed' : 'incomplete';
    try {
      await this.finish(stored, this.assistantResult(answer, status, prepared));
    } catch (error) {
      const storageError =
        error instanceof ApiError
          ? error
          : new ApiError('storage_error', 'The database could not complete the request', {
              cause: error,
            });
      await this.failQuietly(stored, prepared, storageError);
      return storageError;
    }
  }

  private assistantResult(
    answer: TurnAnswer,
    status: 'completed' | 'incomplete',
    prepared: PreparedTurn,
  ): AssistantResult {
    return {
      parts: answer.message.parts,
      status,
      finishReason: answer.finishReason,
      promptTokens: answer.usage?.promptTokens ?? null,
      completionTokens: answer.usage?.completionTokens ?? null,
      tokenEstimate: estimateTokens(answer.message),
      model: prepared.chat.model.alias,
    };
  }

  /** Runs `work`; if it throws, marks the turn failed (`failQuietly`) and rethrows. */
  private async failTurnOnError<T>(
    stored: StoredTurn,
    prepared: PreparedTurn,
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      await this.failQuietly(stored, prepared, error);
      throw error;
    }
  }

  /**
   * Marks the turn failed with the error's catalog code. When the database cannot do that now,
   * the reaper does it as soon as it answers again (so the conversation does not stay busy).
   */
  private async failQuietly(stored: StoredTurn, prepared: PreparedTurn, error: unknown) {
    const code: ErrorCode = error instanceof ApiError ? error.code : 'internal_error';
    try {
      await this.fail(stored, code, prepared);
    } catch (storeError) {
      this.logger.error(
        `could not mark turn of conversation ${stored.turn.conversation.id} failed: ${(storeError as Error).message}`,
      );
      if (!(storeError instanceof ApiError && storeError.code === 'conversation_conflict')) {
        this.reaper.settleLater(stored.turn, { errorCode: code, model: prepared.chat.model.alias });
      }
    }
  }

  private sendJson(
    reply: FastifyReply,
    conversationId: string,
    prepared: PreparedTurn,
    json: JsonObject,
    extraHeaders: Record<string, string> = {},
  ) {
    const applied = this.chat.appliedHeader(prepared.chat);
    if (applied) {
      void reply.header(HEADER.applied, applied);
    }
    void reply
      .status(200)
      .headers(extraHeaders)
      .header(HEADER.conversationId, conversationId)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify(json));
  }

  /**
   * A repeated Idempotency-Key: the stored answer, in the shape the client asked for (the
   * endpoint's format, JSON or a short SSE stream), without calling the upstream or appending
   * anything.
   */
  private async replay<P extends PreparedTurn>(
    wire: TurnWire<P>,
    previous: IdempotencyRecord,
    fingerprint: string,
    prepared: P,
    reply: FastifyReply,
  ): Promise<void> {
    if (previous.fingerprint !== fingerprint) {
      throw new ApiError(
        'invalid_field',
        'This Idempotency-Key was already used with a different request; use a new key',
        { param: 'idempotency-key' },
      );
    }
    const assistant = previous.assistantMessageId
      ? await this.repository.findMessage(previous.assistantMessageId)
      : null;
    if (!assistant) {
      throw new ApiError(
        'conversation_busy',
        'The request with this Idempotency-Key is still in progress',
      );
    }
    const [message] = neutralToOpenAI(toNeutral(assistant));
    const replayed = wire.replay(prepared, {
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
    if ('body' in replayed) {
      replayed.body.conversation_id = previous.conversationId;
      this.sendJson(reply, previous.conversationId, prepared, replayed.body, headers);
      return;
    }
    void reply
      .status(200)
      .headers({ ...SSE_HEADERS, ...headers })
      .header(HEADER.conversationId, previous.conversationId)
      .send(replayed.sse);
  }
}

/** One signal that aborts when either of two does (the client's hang-up, the shutdown). */
function anyOf(first: CancelSignal, second: CancelSignal): Cancellation {
  const both = new Cancellation();
  both.follow(first);
  both.follow(second);
  return both;
}
