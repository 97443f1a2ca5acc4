import { PreparedChat } from 'src/kernel/prepared-request';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { assertStorableText } from 'src/common/validation/storable-text';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { renderChatPrompt } from 'src/modules/conversations/chat-turn-wire';
import { RenderedWindows } from 'src/modules/conversations/openai-prompt';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import {
  ConversationRecord,
  NewMessage,
  StartedTurn,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { toNew } from 'src/modules/conversations/c1-turn.service';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { TurnsRepository } from 'src/modules/conversations/turns.repository';
import { estimateTokens, selectHistoryWindow } from 'src/modules/conversations/history-window';
import { CLAIM_MARGIN_MS } from 'src/modules/conversations/turn-reaper';
import { firstUserText, splitTurn, SplitTurn } from 'src/modules/conversations/turn-request';
import { BackgroundRuns } from 'src/modules/responses/background-runs';
import { DurableEventSink, TeeSink } from 'src/modules/responses/durable-event-sink';
import { ChatChunkSource, ChunkRunResult } from 'src/modules/responses/chat-chunk-source';
import { DISCARD_EVENTS, ResponseEventSink, SseReplySink } from 'src/modules/responses/event-sink';
import { ResponseEventBuilder } from 'src/modules/responses/response-events';
import { inputToChatMessages, parseItemId, pickItem } from 'src/modules/responses/response-items';
import {
  parseConversationId,
  parseResponseId,
  toResponseObject,
} from 'src/modules/responses/response-object';
import {
  inResponsesTerms,
  readResponseRequest,
  ResponseRequest,
  toChatBody,
} from 'src/modules/responses/response-request';
import { answerOf, viewOf, viewOfTurn } from 'src/modules/responses/response-view';
import { ResponseRecord, ResponsesRepository } from 'src/modules/responses/responses.repository';

const JSON_TYPE = 'application/json; charset=utf-8';
/** Each `item_reference` is one read: bounded so that one request cannot ask for thousands. */
const MAX_ITEM_REFERENCES = 200;

/** Where the new turn attaches: a conversation and the message it continues from. */
interface Base {
  conversation: ConversationRecord;
  /** The message the turn follows (the previous response's answer, or the head). */
  headId: string | null;
  /** Set for `previous_response_id`: that answer, to fork from when the head moved on. */
  answer: StoredMessage | null;
}

/** A response being generated: everything the JSON and streamed paths share. */
interface Run {
  request: ResponseRequest;
  prepared: PreparedChat;
  record: ResponseRecord;
  /** null for `store: false`. */
  turn: StartedTurn | null;
  answerId: string;
  sink: ResponseEventSink;
  signal: AbortSignal;
  requestId: string;
  /** A background response stopped by `POST /v1/responses/{id}/cancel`. */
  isCancelled: boolean;
}

const previousNotFound = () =>
  new ApiError(
    'previous_response_not_found',
    'No stored response with this id belongs to you (responses created with store: false are not kept)',
    { param: 'previous_response_id' },
  );

/**
 * `POST /v1/responses`: a turn of a Parley conversation in the Responses API's shapes. The
 * new turn is checked like a `/v1` chat request (model, key, media, token bounds), stored
 * with the conversation (`pending`, claim, the `responses` record, one transaction) before
 * anything goes upstream, forwarded with its history rendered for the upstream's format
 * (the same renderers as `/c1`), and its answer stored as the turn's answer. Without
 * `conversation` or `previous_response_id` a new conversation holds it; with
 * `previous_response_id` it continues that response's conversation, or a fork of it at that
 * response when the conversation has moved on (branching, as OpenAI allows). `store: false`
 * reads history but writes nothing.
 */
@Injectable()
export class ResponseTurnService {
  private readonly logger = new Logger('responses');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly chat: ChatCompletionsService,
    private readonly source: ChatChunkSource,
    private readonly conversations: ConversationsRepository,
    private readonly turns: TurnsRepository,
    private readonly responses: ResponsesRepository,
    private readonly lifecycle: LifecycleService,
    private readonly runs: BackgroundRuns,
    private readonly windows: RenderedWindows,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async create(auth: AuthContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const shutdown = new AbortController();
    const work = this.lifecycle.track('turn', () => shutdown.abort(shutdownError()));
    try {
      await this.createTracked(auth, request, reply, shutdown.signal);
    } finally {
      work.done();
    }
  }

  private async createTracked(
    auth: AuthContext,
    request: FastifyRequest,
    reply: FastifyReply,
    signal: AbortSignal,
  ): Promise<void> {
    const parsed = readResponseRequest(requireJsonObject(request.body));
    if (parsed.settings.background) {
      this.runs.assertRoom();
    }
    const base = await this.resolveBase(auth, parsed);
    if (parsed.conversationId !== null && base) {
      // Echoed as Parley names it (`conv_<id>`), however the client named it.
      parsed.settings.conversation = base.conversation.id;
    }
    const chatMessages = inputToChatMessages(await this.resolveReferences(auth, parsed.input));
    let prepared: PreparedChat;
    try {
      prepared = this.chat.prepare(
        auth,
        toChatBody(parsed, chatMessages, base?.conversation.model ?? null),
      );
    } catch (error) {
      throw inResponsesTerms(error);
    }
    request.modelAlias = prepared.model.alias;
    const isNew = base === null || base.headId === null;
    let split: SplitTurn;
    try {
      split = splitTurn(chatMessages, isNew);
    } catch (error) {
      throw inResponsesTerms(error);
    }
    assertStorableText(parsed.input, 'input');
    const prior = base ? await this.conversations.history(base.headId) : [];
    const newInputs = split.messages.map(toNew);
    const system = isNew && split.system ? toNew(split.system) : null;
    // Checked before anything is stored: a 400 here leaves the conversation as it was.
    this.checkFits(parsed, prepared, [...prior, ...(system ? [asStored(system)] : [])], newInputs);

    const now = this.clock();
    const answerId = randomUUID();
    const record: ResponseRecord = {
      id: randomUUID(),
      userId: auth.userId,
      conversationId: base?.conversation.id ?? '',
      model: prepared.model.alias,
      previousResponseId: parsed.previousResponseId
        ? parseResponseId(parsed.previousResponseId)
        : null,
      settings: parsed.settings,
      runState: parsed.settings.background ? 'running' : null,
      heartbeatAt: parsed.settings.background ? now : null,
      cancelRequestedAt: null,
      createdAt: now,
    };
    let turn: StartedTurn | null = null;
    let history: StoredMessage[];
    let inputs: StoredMessage[];
    if (parsed.settings.store) {
      const conversation = base ? await this.branchFor(base) : null;
      turn = await this.turns.startTurn({
        userId: auth.userId,
        conversationId: conversation?.id ?? null,
        model: prepared.model.alias,
        title: conversation ? undefined : defaultTitle(firstUserText(split.messages)),
        system,
        expectedLastMessageId: base?.headId ?? null,
        messages: newInputs,
        claimTtlMs: this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
        onStored: (em, stored) => {
          record.id = stored.turnId;
          record.conversationId = stored.conversationId;
          return this.responses.insert(em, record);
        },
      });
      history = conversation ? prior : turn.system ? [turn.system] : [];
      inputs = turn.inputs;
    } else {
      history = [...prior, ...(system ? [asStored(system)] : [])];
      inputs = newInputs.map(asStored);
    }
    const run: Run = {
      request: parsed,
      prepared,
      record,
      turn,
      answerId,
      sink: DISCARD_EVENTS,
      signal,
      requestId: String(request.id),
      isCancelled: false,
    };
    await this.failOnError(run, () => Promise.resolve(this.render(run, history, inputs)));
    if (parsed.settings.background) {
      await this.background(run, reply);
    } else if (parsed.stream) {
      await this.streamed(run, reply);
    } else {
      await this.json(run, reply);
    }
  }

  /** The conversation and message the turn continues, checked for the caller. */
  private async resolveBase(auth: AuthContext, parsed: ResponseRequest): Promise<Base | null> {
    if (parsed.previousResponseId !== null) {
      const id = parseResponseId(parsed.previousResponseId);
      const previous = id ? await this.responses.findOwned(auth.userId, id) : null;
      const conversation = previous
        ? await this.conversations.findConversation(auth.userId, previous.conversationId)
        : null;
      if (!previous || !conversation) {
        throw previousNotFound();
      }
      const messages = await this.responses.turnMessages(previous.id);
      const answer = answerOf(messages);
      if (!answer && messages.some((m) => m.status === 'pending')) {
        throw new ApiError(
          'conversation_busy',
          'The previous response is still in progress; continue it once it has finished',
        );
      }
      // A turn that failed without an answer is continued after its (failed) inputs.
      const end = answer ?? messages[messages.length - 1];
      if (!end) {
        throw previousNotFound();
      }
      return { conversation, headId: end.id, answer: end };
    }
    if (parsed.conversationId !== null) {
      const id = parseConversationId(parsed.conversationId);
      const conversation = id ? await this.conversations.findConversation(auth.userId, id) : null;
      if (!conversation) {
        throw new ApiError(
          'conversation_not_found',
          'No conversation with this id belongs to you',
          {
            param: 'conversation',
          },
        );
      }
      return { conversation, headId: conversation.headMessageId, answer: null };
    }
    return null;
  }

  /**
   * The conversation the turn goes into: the base's, unless a previous response is continued
   * after its conversation moved on (or while another turn holds it): then a fork of it at
   * that response, so both branches live on (nothing is copied).
   */
  private async branchFor(base: Base): Promise<ConversationRecord> {
    const c = base.conversation;
    const isHeld = c.activeTurnId !== null && (c.activeTurnExpiresAt ?? 0) >= this.clock();
    if (base.answer && (c.headMessageId !== base.answer.id || isHeld)) {
      return this.conversations.forkConversation(c, base.answer);
    }
    return c;
  }

  /** `item_reference` items replaced by the stored items they name (the caller's only). */
  private async resolveReferences(auth: AuthContext, input: unknown): Promise<unknown> {
    if (!Array.isArray(input)) {
      return input;
    }
    const references = input.filter(
      (item: unknown) => (item as JsonObject | null)?.type === 'item_reference',
    ).length;
    if (references > MAX_ITEM_REFERENCES) {
      throw new ApiError(
        'invalid_field',
        `input may hold at most ${MAX_ITEM_REFERENCES} item_reference items (send previous_response_id or conversation instead)`,
        { param: 'input' },
      );
    }
    return Promise.all(
      input.map(async (item: unknown, i) => {
        const ref = item as JsonObject;
        if (ref === null || typeof ref !== 'object' || ref.type !== 'item_reference') {
          return item;
        }
        const parsed = parseItemId(ref.id);
        const message = parsed
          ? await this.responses.findOwnedMessage(auth.userId, parsed.messageId)
          : null;
        const found = message && parsed ? pickItem(message, parsed) : null;
        if (!found) {
          throw new ApiError('invalid_field', `No stored item ${String(ref.id)} belongs to you`, {
            param: `input[${i}].id`,
          });
        }
        return found;
      }),
    );
  }

  /**
   * `truncation: disabled` and a history that does not fit → 400 `context_length_exceeded`
   * (`auto` leaves the oldest turns out instead); a new turn that alone does not fit → 400
   * either way.
   */
  private checkFits(
    parsed: ResponseRequest,
    prepared: PreparedChat,
    prior: StoredMessage[],
    inputs: NewMessage[],
  ) {
    const budget = this.budget(parsed, prepared);
    const fixed = [...prior.filter((m) => m.role === 'system'), ...inputs].reduce(
      (sum, m) => sum + m.tokenEstimate,
      0,
    );
    const window = selectHistoryWindow(prior, inputs.map(asStored), budget);
    if (fixed > budget || (window.omitted > 0 && parsed.settings.truncation === 'disabled')) {
      throw new ApiError(
        'context_length_exceeded',
        `The input (about ${fixed} tokens with its history) does not fit the context window of "${prepared.model.alias}"` +
          (fixed > budget ? '' : '; send truncation: "auto" to leave the oldest turns out'),
        { param: 'input' },
      );
    }
  }

  private budget(parsed: ResponseRequest, prepared: PreparedChat): number {
    const c = prepared.model.constraints;
    const requested = prepared.body.max_tokens;
    const reserved = typeof requested === 'number' ? requested : c.maxOutputTokens;
    const instructions = parsed.settings.instructions
      ? estimateTokens({
          role: 'system',
          parts: [{ type: 'text', text: parsed.settings.instructions }],
        })
      : 0;
    return c.contextWindow - reserved - instructions;
  }

  /** Instructions + system prompt + history window + the new turn, rendered for the upstream. */
  private render(run: Run, history: StoredMessage[], inputs: StoredMessage[]) {
    const window = selectHistoryWindow(history, inputs, this.budget(run.request, run.prepared));
    const messages: NeutralMessage[] = window.messages.map(toNeutral);
    const instructions = run.request.settings.instructions;
    if (instructions) {
      // Instructions apply to this response only (as OpenAI's): never stored, put first.
      const first = messages[0];
      if (first?.role === 'system') {
        messages[0] = {
          role: 'system',
          parts: [{ type: 'text', text: `${instructions}\n\n` }, ...first.parts],
        };
      } else {
        messages.unshift({ role: 'system', parts: [{ type: 'text', text: instructions }] });
      }
    }
    renderChatPrompt(run.prepared, messages, this.windows);
    if (window.omitted > 0) {
      run.prepared.applied.push(`history_truncated=${window.omitted}`);
    }
  }

  private async json(run: Run, reply: FastifyReply): Promise<void> {
    const result = await this.generate(run);
    const applied = this.chat.appliedHeader(run.prepared);
    if (applied) {
      void reply.header(HEADER.applied, applied);
    }
    void reply.status(200).header('content-type', JSON_TYPE).send(JSON.stringify(result));
  }

  private async streamed(run: Run, reply: FastifyReply): Promise<void> {
    const applied = this.chat.appliedHeader(run.prepared);
    run.sink = new SseReplySink(reply, applied ? { [HEADER.applied]: applied } : {});
    await this.generate(run);
  }

  /**
   * A background response: the generation runs in the gateway, detached from this request
   * (tracked by the lifecycle like any turn: a shutdown waits for it, then stops it and stores
   * what arrived), its events stored as they come. Answers at once with the queued response,
   * or, with `stream: true`, streams it to this client as well.
   */
  private async background(run: Run, reply: FastifyReply): Promise<void> {
    const stop = new AbortController();
    const cancel = () => {
      run.isCancelled = true;
      run.record.cancelRequestedAt = this.clock();
      stop.abort();
    };
    const durable = new DurableEventSink(
      this.responses,
      run.record.id,
      Math.max(1_000, this.config.responses.backgroundStaleMs / 4),
      cancel,
    );
    const applied = this.chat.appliedHeader(run.prepared);
    const headers: Record<string, string> = applied ? { [HEADER.applied]: applied } : {};
    run.sink = run.request.stream
      ? new TeeSink([new SseReplySink(reply, headers), durable])
      : durable;
    run.signal = stop.signal;
    const work = this.lifecycle.track('turn', () => stop.abort(shutdownError()));
    this.runs.register(run.record.id, cancel);
    const generation = this.generate(run)
      .catch(async (error: unknown) => {
        // Failed before the upstream answered: the turn is stored failed; end the log too.
        this.logger.warn(`background response ${run.record.id} failed: ${String(error)}`);
        const messages = await this.responses.turnMessages(run.record.id).catch(() => []);
        const builder = new ResponseEventBuilder(run.answerId);
        durable.send([
          ...builder.start(toResponseObject(viewOf(run.record, null))),
          ...builder.finish(toResponseObject(viewOfTurn(run.record, messages))),
        ]);
        await durable.end();
      })
      .finally(() => {
        this.runs.unregister(run.record.id);
        work.done();
      });
    if (run.request.stream) {
      await generation;
      return;
    }
    const queued = { ...toResponseObject(viewOf(run.record, null)), status: 'queued' };
    if (applied) {
      void reply.header(HEADER.applied, applied);
    }
    void reply.status(200).header('content-type', JSON_TYPE).send(JSON.stringify(queued));
  }

  /**
   * Forwards the turn and stores its answer; events go to `run.sink` as they are built.
   * Resolves with the final response object. Throws `ApiError` when the upstream failed
   * before answering (the turn is then stored failed).
   */
  private async generate(run: Run): Promise<JsonObject> {
    const call = await this.failOnError(run, () =>
      this.source.open(run.prepared, {
        signal: run.signal,
        requestId: run.requestId,
        affinityKey: run.record.conversationId || undefined,
      }),
    );
    const builder = new ResponseEventBuilder(run.answerId);
    run.sink.send(builder.start(toResponseObject(viewOf(run.record, null))));
    const result: ChunkRunResult = await this.source.read(
      run.prepared,
      call,
      (chunk) => run.sink.send(builder.push(chunk)),
      run.signal,
    );
    const answer = builder.answer();
    const code = run.isCancelled ? 'cancelled' : (result.error?.code ?? 'upstream_error');
    const stored =
      result.outcome === 'incomplete' && answer.parts.length === 0
        ? await this.storeFailure(run, code)
        : await this.storeAnswer(run, answer, result, builder.reason);
    const final = toResponseObject(viewOf(run.record, stored));
    run.sink.send(builder.finish(final));
    await run.sink.end();
    return final;
  }

  private async storeAnswer(
    run: Run,
    message: NeutralMessage,
    result: ChunkRunResult,
    finishReason: string | null,
  ): Promise<StoredMessage> {
    const answer = {
      id: run.answerId,
      parts: message.parts,
      status: result.outcome,
      finishReason,
      promptTokens: result.usage?.promptTokens ?? null,
      completionTokens: result.usage?.completionTokens ?? null,
      tokenEstimate: estimateTokens(message),
      model: run.prepared.model.alias,
    };
    if (!run.turn) {
      return unstored({ ...answer, role: 'assistant' }, run.record.createdAt);
    }
    return this.turns.finishTurn(run.turn, answer);
  }

  /** `code`: a catalog code, or `cancelled` for a cancelled background response. */
  private async storeFailure(run: Run, code: string): Promise<StoredMessage> {
    const failure = { id: run.answerId, errorCode: code, model: run.prepared.model.alias };
    if (!run.turn) {
      const empty = { role: 'assistant' as const, parts: [], status: 'failed' as const };
      const message = { ...empty, finishReason: null, promptTokens: null, completionTokens: null };
      return {
        ...unstored({ ...message, ...failure, tokenEstimate: 0 }, run.record.createdAt),
        errorCode: code,
      };
    }
    return this.turns.failTurn(run.turn, failure);
  }

  /** Runs `work`; when it throws, the turn is stored failed and the error rethrown. */
  private async failOnError<T>(run: Run, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (run.turn) {
        const code: ErrorCode = error instanceof ApiError ? error.code : 'internal_error';
        try {
          await this.turns.failTurn(run.turn, {
            id: run.answerId,
            errorCode: code,
            model: run.prepared.model.alias,
          });
        } catch (storeError) {
          // The claim expires and the reaper resolves the turn.
          this.logger.error(
            `could not mark response ${run.record.id} failed: ${(storeError as Error).message}`,
          );
        }
      }
      throw error;
    }
  }
}

const toNeutral = (m: StoredMessage): NeutralMessage => ({
  role: m.role,
  parts: m.parts,
  ...(m.name ? { name: m.name } : {}),
});

/** A message that is not stored (`store: false`, or a size check) in the stored shape. */
function asStored(m: NewMessage): StoredMessage {
  return unstored(
    {
      ...m,
      status: 'pending',
      finishReason: null,
      promptTokens: null,
      completionTokens: null,
      model: null,
    },
    systemClock(),
  );
}

function unstored(
  m: Omit<
    StoredMessage,
    | 'id'
    | 'treeId'
    | 'parentId'
    | 'depth'
    | 'turnId'
    | 'errorCode'
    | 'createdAt'
    | 'updatedAt'
    | 'name'
  > & {
    id?: string;
    name?: string | null;
  },
  at: number,
): StoredMessage {
  return {
    id: m.id ?? randomUUID(),
    treeId: '',
    parentId: null,
    depth: 0,
    turnId: '',
    role: m.role,
    parts: m.parts,
    name: m.name ?? null,
    status: m.status,
    finishReason: m.finishReason,
    promptTokens: m.promptTokens,
    completionTokens: m.completionTokens,
    tokenEstimate: m.tokenEstimate,
    model: m.model,
    errorCode: null,
    createdAt: at,
    updatedAt: at,
  };
}
