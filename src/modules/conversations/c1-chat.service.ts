import { Cancellation, CancelSignal } from 'src/modules/proxy/upstream/cancellation';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/modules/errors/api-error';
import { ErrorCode } from 'src/modules/errors/error-catalog';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { ChatCompletionsService, PreparedChat } from 'src/modules/proxy/chat-completions.service';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { watchHangUp } from 'src/modules/proxy/hang-up';
import { CallerAbortError } from 'src/modules/proxy/upstream/upstream-errors';
import { NeutralMessage } from 'src/modules/proxy/wire/neutral';
import {
  neutralToOpenAI,
  OpenAIMessage,
  openAIToNeutral,
} from 'src/modules/proxy/wire/openai/openai-neutral';
import {
  AssembledCompletion,
  assembleCompletion,
} from 'src/modules/proxy/wire/openai/stream-accumulator';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import {
  AssistantResult,
  ConversationRecord,
  IdempotencyRecord,
  NewMessage,
  StartedTurn,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import {
  ConversationsRepository,
  IDEMPOTENCY_TTL_MS,
} from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { holdResponseEnd } from 'src/modules/conversations/hold-response-end';
import { estimateTokens, selectHistoryWindow } from 'src/modules/conversations/history-window';
import { CLAIM_MARGIN_MS } from 'src/modules/conversations/turn-reaper';
import {
  firstUserText,
  readIdempotencyKey,
  requestFingerprint,
  splitTurn,
  takeTurnFields,
} from 'src/modules/conversations/turn-request';

const JSON_TYPE = 'application/json; charset=utf-8';

/** A turn in progress: what was stored at its start, and the history it extends. */
interface StoredTurn {
  turn: StartedTurn;
  prior: StoredMessage[];
}

const toNeutral = (m: StoredMessage): NeutralMessage => ({
  role: m.role,
  parts: m.parts,
  ...(m.name ? { name: m.name } : {}),
});

/** A stored message in OpenAI form: the messages, and their JSON without the brackets. */
interface RenderedMessage {
  messages: OpenAIMessage[];
  json: string;
}

/**
 * Renderings of stored messages, kept as long as the message object lives (the history cache
 * holds the messages of recent chains): a stored message never changes, so a turn on a long
 * conversation renders and serialises only its new messages.
 */
const renderings = new WeakMap<StoredMessage, RenderedMessage>();

function renderForOpenAI(message: StoredMessage): RenderedMessage {
  let rendered = renderings.get(message);
  if (!rendered) {
    const messages = neutralToOpenAI(toNeutral(message));
    rendered = { messages, json: JSON.stringify(messages).slice(1, -1) };
    renderings.set(message, rendered);
  }
  return rendered;
}

const toNew = (m: NeutralMessage): NewMessage => ({
  role: m.role,
  parts: m.parts,
  name: m.name ?? null,
  tokenEstimate: estimateTokens(m),
});

/**
 * `POST /c1/chat/completions`: a chat turn whose history the gateway keeps. Built on the /v1
 * engine (`ChatCompletionsService`: validation, upstream client, error mapping, SSE pipe,
 * usage reporting); this class adds the conversation around it, in this order:
 *
 * 1. validate (the /v1 checks, on the new turn only) and resolve the conversation (404 for
 *    anyone else's);
 * 2. store the turn's messages `pending` and claim the conversation, committed before
 *    anything goes upstream (409 `conversation_busy` / `conversation_conflict`);
 * 3. forward system prompt + history (completed and incomplete turns) + the new turn,
 *    rendered from the neutral form, oldest turns left out when the window is full;
 * 4. store the answer and complete the turn in one transaction, then answer. An upstream
 *    failure marks the turn `failed` and returns the catalog error.
 *
 * A turn whose client hangs up is read to its end and stored (unless `x-on-disconnect:
 * cancel`). Every turn is tracked by the lifecycle until it is stored: a shutdown waits for
 * it, and when the grace period runs out aborts its upstream and stores what arrived.
 */
@Injectable()
export class C1ChatService {
  private readonly logger = new Logger('conversations');

  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly repository: ConversationsRepository,
    private readonly conversations: ConversationsService,
    private readonly cache: HistoryCache,
    private readonly lifecycle: LifecycleService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async handle(auth: AuthContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const shutdown = new AbortController();
    const work = this.lifecycle.track('turn', () => shutdown.abort(new CallerAbortError()));
    try {
      await this.turn(auth, request, reply, shutdown.signal);
    } finally {
      work.done();
    }
  }

  private async turn(
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
    const prepared = this.chat.prepare(auth, body, {
      defaultModel: conversation?.model ?? undefined,
    });
    request.modelAlias = prepared.model.alias;
    if (body.n !== undefined && body.n !== null && body.n !== 1) {
      throw new ApiError('invalid_field', 'n must be 1 on /c1: a conversation keeps one answer', {
        param: 'n',
      });
    }
    const split = splitTurn(body.messages as OpenAIMessage[], conversation === null);

    if (idempotencyKey && fingerprint) {
      const previous = await this.repository.findIdempotencyKey(
        auth.userId,
        idempotencyKey,
        Date.now() - IDEMPOTENCY_TTL_MS,
      );
      if (previous) {
        await this.replay(previous, fingerprint, prepared, reply);
        return;
      }
    }

    const turn = await this.repository.startTurn({
      userId: auth.userId,
      conversationId: conversation?.id ?? null,
      model: prepared.model.alias,
      title: conversation ? undefined : defaultTitle(firstUserText(split.messages)),
      system: split.system ? toNew(split.system) : null,
      expectedLastMessageId: fields.expectedLastMessageId,
      messages: split.messages.map(toNew),
      idempotency: idempotencyKey && fingerprint ? { key: idempotencyKey, fingerprint } : null,
      claimTtlMs: this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
    });
    const stored: StoredTurn = { turn, prior: [] };
    try {
      stored.prior = await this.buildPrompt(turn, conversation, prepared);
    } catch (error) {
      await this.failQuietly(stored, prepared, error);
      throw error;
    }
    if (prepared.isStream) {
      await this.streamTurn(stored, prepared, request, reply, isCancelOnHangUp, shutdown);
    } else {
      await this.jsonTurn(stored, prepared, request, reply, isCancelOnHangUp, shutdown);
    }
  }

  /**
   * Replaces the body's messages with system prompt + history window + the new turn; returns
   * the history the turn extends.
   */
  private async buildPrompt(
    turn: StartedTurn,
    conversation: ConversationRecord | null,
    prepared: PreparedChat,
  ): Promise<StoredMessage[]> {
    const parentId = turn.inputs[0].parentId;
    const prior = conversation
      ? (this.cache.get(parentId) ?? (await this.repository.history(parentId)))
      : turn.system
        ? [turn.system]
        : [];
    const body = prepared.body;
    const c = prepared.model.constraints;
    const requested = body.max_completion_tokens ?? body.max_tokens;
    const reserved = typeof requested === 'number' ? requested : c.maxOutputTokens;
    const window = selectHistoryWindow(prior, turn.inputs, c.contextWindow - reserved);
    const messages: OpenAIMessage[] = [];
    const json: string[] = [];
    for (const message of window.messages) {
      const rendered = renderForOpenAI(message);
      for (const m of rendered.messages) {
        messages.push(m);
      }
      if (rendered.json !== '') {
        json.push(rendered.json);
      }
    }
    body.messages = messages;
    prepared.messagesJson = `[${json.join(',')}]`;
    if (window.omitted > 0) {
      prepared.applied.push(`history_truncated=${window.omitted}`);
    }
    return prior;
  }

  /** Stores the answer and remembers the finished chain for the next turn. */
  private async finish(stored: StoredTurn, result: AssistantResult): Promise<void> {
    const { turn, prior } = stored;
    const assistant = await this.repository.finishTurn(turn, result);
    const inputs = turn.inputs.map((m) => ({ ...m, status: 'completed' as const }));
    this.cache.set([...prior, ...inputs, assistant]);
  }

  private async fail(stored: StoredTurn, errorCode: ErrorCode, prepared: PreparedChat) {
    const { turn, prior } = stored;
    const assistant = await this.repository.failTurn(turn, {
      errorCode,
      model: prepared.model.alias,
    });
    const inputs = turn.inputs.map((m) => ({ ...m, status: 'failed' as const, errorCode }));
    this.cache.set([...prior, ...inputs, assistant]);
  }

  private async jsonTurn(
    stored: StoredTurn,
    prepared: PreparedChat,
    request: FastifyRequest,
    reply: FastifyReply,
    isCancelOnHangUp: boolean,
    shutdown: AbortSignal,
  ): Promise<void> {
    // By default a JSON turn runs to its end even if the client leaves, so that its answer is
    // stored; `x-on-disconnect: cancel` aborts the upstream instead (the turn is then failed).
    const turn = stored.turn;
    const hangUp = isCancelOnHangUp ? watchHangUp(reply) : null;
    let completion: AssembledCompletion;
    let json: Record<string, unknown>;
    try {
      const completed = await this.chat.complete(prepared, {
        signal: hangUp ? anyOf(hangUp.signal, shutdown) : shutdown,
        requestId: String(request.id),
        affinityKey: turn.conversation.id,
      });
      json = completed.json;
      completion = assembleCompletion(json);
      if (completion.choices.length === 0) {
        throw new ApiError(
          'upstream_error',
          `The model server for "${prepared.model.alias}" answered without a choice`,
        );
      }
    } catch (error) {
      await this.failQuietly(stored, prepared, error);
      throw error;
    } finally {
      hangUp?.dispose();
    }
    await this.finish(stored, this.assistantResult(completion, 'completed', prepared));
    json.conversation_id = turn.conversation.id;
    this.sendJson(reply, turn.conversation.id, prepared, json);
  }

  private async streamTurn(
    stored: StoredTurn,
    prepared: PreparedChat,
    request: FastifyRequest,
    reply: FastifyReply,
    isCancelOnHangUp: boolean,
    shutdown: AbortSignal,
  ): Promise<void> {
    // The stream's last bytes wait until the turn is stored (see holdResponseEnd).
    const releaseEnd = holdResponseEnd(reply.raw);
    try {
      await this.streamAndStore(stored, prepared, request, reply, isCancelOnHangUp, shutdown);
    } finally {
      releaseEnd();
    }
  }

  private async streamAndStore(
    stored: StoredTurn,
    prepared: PreparedChat,
    request: FastifyRequest,
    reply: FastifyReply,
    isCancelOnHangUp: boolean,
    shutdown: AbortSignal,
  ): Promise<void> {
    const turn = stored.turn;
    let result;
    try {
      result = await this.chat.stream(reply, prepared, {
        onClientGone: isCancelOnHangUp ? 'abort' : 'detach',
        signal: shutdown,
        collect: true,
        headers: { [HEADER.conversationId]: turn.conversation.id },
        requestId: String(request.id),
        affinityKey: turn.conversation.id,
      });
    } catch (error) {
      // The upstream failed before anything was sent: a plain HTTP error, turn failed.
      await this.failQuietly(stored, prepared, error);
      throw error;
    }
    const completion = result.completion;
    try {
      if (result.outcome === 'failed' || !completion || completion.choices.length === 0) {
        await this.fail(stored, result.error?.code ?? 'upstream_error', prepared);
        return;
      }
      // `incomplete`: the upstream cut the stream, a timeout, or a cancelled client; what
      // arrived is kept and marked, and the user turn counts as completed.
      const status = result.outcome === 'completed' ? 'completed' : 'incomplete';
      const answer = this.assistantResult(completion, status, prepared);
      if (result.usage && answer.promptTokens === null) {
        answer.promptTokens = result.usage.promptTokens;
        answer.completionTokens = result.usage.completionTokens;
      }
      await this.finish(stored, answer);
    } catch (error) {
      // The response has already ended: log; the reaper resolves a turn left pending.
      this.logger.error(
        `could not store streamed turn of conversation ${turn.conversation.id}: ${(error as Error).message}`,
      );
    }
  }

  private assistantResult(
    completion: AssembledCompletion,
    status: 'completed' | 'incomplete',
    prepared: PreparedChat,
  ): AssistantResult {
    const choice = completion.choices[0];
    const neutral = openAIToNeutral(choice.message as unknown as OpenAIMessage);
    return {
      parts: neutral.parts,
      status,
      finishReason: choice.finish_reason,
      promptTokens: completion.usage?.prompt_tokens ?? null,
      completionTokens: completion.usage?.completion_tokens ?? null,
      tokenEstimate: estimateTokens(neutral),
      model: prepared.model.alias,
    };
  }

  /** Marks the turn failed with the error's catalog code; a storage failure is only logged. */
  private async failQuietly(stored: StoredTurn, prepared: PreparedChat, error: unknown) {
    const code: ErrorCode = error instanceof ApiError ? error.code : 'internal_error';
    try {
      await this.fail(stored, code, prepared);
    } catch (storeError) {
      this.logger.error(
        `could not mark turn of conversation ${stored.turn.conversation.id} failed: ${(storeError as Error).message}`,
      );
    }
  }

  private sendJson(
    reply: FastifyReply,
    conversationId: string,
    prepared: PreparedChat,
    json: Record<string, unknown>,
    extraHeaders: Record<string, string> = {},
  ) {
    const applied = this.chat.appliedHeader(prepared);
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
   * A repeated Idempotency-Key: the stored answer, in the shape the client asked for (JSON or
   * a short SSE stream), without calling the upstream or appending anything.
   */
  private async replay(
    previous: IdempotencyRecord,
    fingerprint: string,
    prepared: PreparedChat,
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
    const id = `chatcmpl-${assistant.id}`;
    const created = Math.floor(assistant.createdAt / 1000);
    const usage =
      assistant.promptTokens === null
        ? null
        : {
            prompt_tokens: assistant.promptTokens,
            completion_tokens: assistant.completionTokens ?? 0,
            total_tokens: assistant.promptTokens + (assistant.completionTokens ?? 0),
          };
    const headers = { [HEADER.idempotentReplayed]: 'true' };
    if (!prepared.isStream) {
      this.sendJson(
        reply,
        previous.conversationId,
        prepared,
        {
          id,
          object: 'chat.completion',
          created,
          model: assistant.model,
          choices: [{ index: 0, message, finish_reason: assistant.finishReason, logprobs: null }],
          usage,
          conversation_id: previous.conversationId,
        },
        headers,
      );
      return;
    }
    const chunk = (delta: object, finish: string | null) =>
      `data: ${JSON.stringify({
        id,
        object: 'chat.completion.chunk',
        created,
        model: assistant.model,
        choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
      })}\n\n`;
    const { role: _role, ...delta } = message;
    let text = chunk({ role: 'assistant', ...delta }, null) + chunk({}, assistant.finishReason);
    if (prepared.clientWantsUsage && usage) {
      text += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: assistant.model, choices: [], usage })}\n\n`;
    }
    void reply
      .status(200)
      .headers({ ...SSE_HEADERS, ...headers })
      .header(HEADER.conversationId, previous.conversationId)
      .send(`${text}data: [DONE]\n\n`);
  }
}

/** One signal that aborts when either of two does (the client's hang-up, the shutdown). */
function anyOf(first: CancelSignal, second: CancelSignal): Cancellation {
  const both = new Cancellation();
  both.follow(first);
  both.follow(second);
  return both;
}
