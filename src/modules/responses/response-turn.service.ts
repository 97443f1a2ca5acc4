import { PreparedChat } from 'src/kernel/prepared-request';
import { randomUUID } from 'node:crypto';
import { newRowId } from 'src/database/row-id';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AuthContext } from 'src/common/types/auth-context';
import { assertStorableText } from 'src/common/validation/storable-text';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { RenderedWindows } from 'src/modules/conversations/openai-prompt';
import { defaultTitle } from 'src/modules/conversations/conversation.presenter';
import {
  ConversationRecord,
  NewMessage,
  StoredMessage,
} from 'src/modules/conversations/conversation.types';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { estimateTokens, selectHistoryWindow } from 'src/modules/conversations/history-window';
import { TurnCommand, TurnEngine } from 'src/modules/conversations/turn-engine';
import { toNew, unstoredMessage } from 'src/modules/conversations/turn-messages';
import { CLAIM_MARGIN_MS } from 'src/modules/conversations/turn-reaper';
import { firstUserText, splitTurn, SplitTurn } from 'src/modules/conversations/turn-request';
import { BackgroundRuns } from 'src/modules/responses/background-runs';
import { PolicyService } from 'src/modules/policy/policy.service';
import { StreamRunner } from 'src/modules/proxy/stream/stream-runner';
import { inputToChatMessages, parseItemId, pickItem } from 'src/modules/responses/response-items';
import { parseConversationId } from 'src/modules/conversations/conversation-id';
import { parseResponseId } from 'src/modules/responses/response-object';
import {
  inResponsesTerms,
  readResponseRequest,
  ResponseRequest,
  toChatBody,
} from 'src/modules/responses/response-request';
import {
  ResponseTurn,
  ResponseTurnDeps,
  ResponseTurnSink,
} from 'src/modules/responses/response-turn-sink';
import { answerOf } from 'src/modules/responses/response-view';
import { ResponseRecord, ResponsesRepository } from 'src/modules/responses/responses.repository';

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

const previousNotFound = () =>
  new ApiError(
    'previous_response_not_found',
    'No stored response with this id belongs to you (responses created with store: false are not kept)',
    { param: 'previous_response_id' },
  );

/**
 * The `/v1/responses` adapter of the turn engine (`POST /v1/responses`): a turn of a Parley
 * conversation in the Responses API's shapes. The new turn is checked like a `/v1` chat
 * request (model, key, media, token bounds); the engine stores it with the conversation
 * (`pending`, claim, the `responses` record, one transaction) before anything goes upstream;
 * `ResponseTurnSink` renders it for the upstream (the same renderers as `/c1`) and answers
 * the response object, its events, or a background run. Without
 * `conversation` or `previous_response_id` a new conversation holds it; with
 * `previous_response_id` it continues that response's conversation, or a fork of it at that
 * response when the conversation has moved on (branching, as OpenAI allows). `store: false`
 * reads history but writes nothing.
 */
@Injectable()
export class ResponseTurnService {
  private readonly deps: ResponseTurnDeps;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly chat: ChatCompletionsService,
    runner: StreamRunner,
    private readonly conversations: ConversationsRepository,
    private readonly responses: ResponsesRepository,
    lifecycle: LifecycleService,
    private readonly runs: BackgroundRuns,
    windows: RenderedWindows,
    private readonly engine: TurnEngine,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
    @Optional() private readonly policy?: PolicyService,
  ) {
    this.deps = { config, chat, runner, responses, lifecycle, runs, windows, clock };
  }

  async create(auth: AuthContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
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
    if (parsed.settings.instructions) {
      // A prompt the client sent, though outside the messages `prepare` checked.
      this.policy?.checkInputText(
        prepared.model.alias,
        parsed.settings.instructions,
        'instructions',
      );
    }
    const isNew = base === null || base.headId === null;
    let split: SplitTurn;
    try {
      split = splitTurn(chatMessages, isNew);
    } catch (error) {
      throw inResponsesTerms(error);
    }
    assertStorableText(parsed.input, 'input');
    const newInputs = split.messages.map(toNew);
    const system = isNew && split.system ? toNew(split.system) : null;
    const budget = this.budget(parsed, prepared);
    // Checked before anything is stored: a 400 leaves the conversation as it was.
    const checkFits = (history: StoredMessage[]) =>
      assertFits(parsed, prepared, budget, history, newInputs);

    const now = this.clock();
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
    const turn: ResponseTurn = {
      request: parsed,
      prepared,
      record,
      answerId: newRowId(now),
      budget,
      requestId: String(request.id),
      log: request.log,
    };
    const sink = new ResponseTurnSink(this.deps, turn, reply);
    const command: TurnCommand = {
      onClientGone: 'detach',
      model: prepared.model.alias,
      answerId: turn.answerId,
      claim: null,
      log: request.log,
    };
    if (!parsed.settings.store) {
      const prior = base ? await this.conversations.history(base.headId) : [];
      const history = [...prior, ...(system ? [unstoredMessage(system, now)] : [])];
      checkFits(history);
      command.unstored = { history, inputs: newInputs.map((m) => unstoredMessage(m, now)) };
    } else {
      const conversation = base ? await this.branchFor(base, checkFits) : null;
      command.claim = {
        userId: auth.userId,
        conversationId: conversation?.id ?? null,
        model: prepared.model.alias,
        title: conversation ? undefined : defaultTitle(firstUserText(split.messages)),
        system,
        expectedLastMessageId: base?.headId ?? null,
        messages: newInputs,
        claimTtlMs: this.config.upstream.totalTimeoutMs + CLAIM_MARGIN_MS,
        accept: checkFits,
        onStored: (em, stored) => {
          record.id = stored.turnId;
          record.conversationId = stored.conversationId;
          return this.responses.insert(em, record);
        },
      };
    }
    await this.engine.run(command, sink);
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
  private async branchFor(
    base: Base,
    checkFits: (history: StoredMessage[]) => void,
  ): Promise<ConversationRecord> {
    const c = base.conversation;
    const isHeld = c.activeTurnId !== null && (c.activeTurnExpiresAt ?? 0) >= this.clock();
    if (base.answer && (c.headMessageId !== base.answer.id || isHeld)) {
      // Checked before the fork too: a refused turn leaves no fork behind.
      checkFits(await this.conversations.history(base.answer.id));
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
}

/**
 * `truncation: disabled` and a history that does not fit → 400 `context_length_exceeded`
 * (`auto` leaves the oldest turns out instead); a new turn that alone does not fit → 400
 * either way.
 */
function assertFits(
  parsed: ResponseRequest,
  prepared: PreparedChat,
  budget: number,
  prior: StoredMessage[],
  inputs: NewMessage[],
) {
  const fixed = [...prior.filter((m) => m.role === 'system'), ...inputs].reduce(
    (sum, m) => sum + m.tokenEstimate,
    0,
  );
  const window = selectHistoryWindow(
    prior,
    inputs.map((m) => unstoredMessage(m, 0)),
    budget,
  );
  if (fixed > budget || (window.omitted > 0 && parsed.settings.truncation === 'disabled')) {
    throw new ApiError(
      'context_length_exceeded',
      `The input (about ${fixed} tokens with its history) does not fit the context window of "${prepared.model.alias}"` +
        (fixed > budget ? '' : '; send truncation: "auto" to leave the oldest turns out'),
      { param: 'input' },
    );
  }
}
