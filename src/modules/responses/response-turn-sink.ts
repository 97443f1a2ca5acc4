import { JSON_TYPE } from 'src/common/http/headers';
import type { RequestLog } from 'src/common/logging/request-log';
import type { FastifyReply } from 'fastify';
import { PreparedChat } from 'src/kernel/prepared-request';
import { ApiError } from 'src/common/errors/api-error';
import { Clock } from 'src/common/time/clock';
import { HEADER } from 'src/common/http/headers';
import { AppConfig } from 'src/config/load-config';
import { JsonObject } from 'src/kernel/json';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { ChatCompletionsService, CompletedChat } from 'src/modules/proxy/chat-completions.service';
import { assembleCompletion } from 'src/modules/proxy/wire/openai/stream-accumulator';
import { NoClientOutput, SseOutput } from 'src/modules/proxy/sse/sse-output';
import { StreamRunner } from 'src/modules/proxy/stream/stream-runner';
import { renderChatPrompt } from 'src/modules/conversations/chat-turn-wire';
import { selectChainWindow } from 'src/modules/conversations/history-window';
import { historyMessages } from 'src/modules/conversations/history-chain';
import { RenderedWindows } from 'src/modules/conversations/openai-prompt';
import { ForwardedTurn, TurnOutcome, TurnSink } from 'src/modules/conversations/turn-engine';
import { toNeutral } from 'src/modules/conversations/turn-messages';
import { BackgroundRuns } from 'src/modules/responses/background-runs';
import { DurableEventSink } from 'src/modules/responses/durable-event-sink';
import { ResponsesStreamAdapter } from 'src/modules/responses/responses-stream-adapter';
import {
  ResponseEventBuilder,
  serializeResponseEvent,
  serializeResponseEvents,
} from 'src/modules/responses/response-events';
import { toResponseObject } from 'src/modules/responses/response-object';
import { ResponseRequest } from 'src/modules/responses/response-request';
import { viewOf, viewOfTurn } from 'src/modules/responses/response-view';
import { ResponseRecord, ResponsesRepository } from 'src/modules/responses/responses.repository';

/** What a Responses sink needs besides the request: the gateway's services. */
export interface ResponseTurnDeps {
  config: AppConfig;
  chat: ChatCompletionsService;
  runner: StreamRunner;
  responses: ResponsesRepository;
  lifecycle: LifecycleService;
  runs: BackgroundRuns;
  windows: RenderedWindows;
  clock: Clock;
}

/** A response being created, as the adapter read it. */
export interface ResponseTurn {
  request: ResponseRequest;
  prepared: PreparedChat;
  /** Its `responses` row; `id` and `conversationId` are set when the claim stores it. */
  record: ResponseRecord;
  /** The id its answer (the output message) is stored under. */
  answerId: string;
  /** The token budget of the history window (context minus output and instructions). */
  budget: number;
  requestId: string;
  /** The logger of the request that creates it: a background run keeps writing there. */
  log: RequestLog;
}

/**
 * A `/v1/responses` turn's answer: the response object (JSON), its typed events (SSE), or a
 * background run whose events are stored as they come (and, with `stream: true`, streamed to
 * the creator as well). A JSON response asks the upstream for a JSON answer; the other two
 * read its stream through the one `StreamRunner` (the client's reply is its output for SSE,
 * `NoClientOutput` for a background run without a reader), `ResponsesStreamAdapter` building
 * the events from the upstream's chat stream, whatever the upstream speaks, with
 * `sequence_number`s from 0. All three fold the answer with one `ResponseEventBuilder`, so
 * they store the same answer. A client that hangs up only stops the writing: the generation
 * goes on and is stored.
 */
export class ResponseTurnSink implements TurnSink {
  /** The background run's event log. */
  private durable: DurableEventSink | null = null;
  private signal: AbortSignal | null = null;
  /** A background response stopped by `POST /v1/responses/{id}/cancel`. */
  private isCancelled = false;

  constructor(
    private readonly deps: ResponseTurnDeps,
    private readonly turn: ResponseTurn,
    private readonly reply: FastifyReply,
  ) {}

  replay(): never {
    throw new Error('/v1/responses takes no Idempotency-Key');
  }

  /** Instructions + system prompt + history window + the new turn. */
  render(forwarded: ForwardedTurn): void {
    const { request, prepared, budget } = this.turn;
    const window = selectChainWindow(forwarded.history, forwarded.inputs, budget);
    const instructions = request.settings.instructions;
    if (window.kind === 'whole' && !instructions) {
      renderChatPrompt(
        prepared,
        { history: window.history, after: window.turn.map(toNeutral) },
        this.deps.windows,
      );
      return;
    }
    const messages: NeutralMessage[] =
      window.kind === 'whole'
        ? [...historyMessages(window.history), ...window.turn].map(toNeutral)
        : window.messages.map(toNeutral);
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
    renderChatPrompt(prepared, { history: null, after: messages }, this.deps.windows);
    if (window.omitted > 0) {
      prepared.applied.push(`history_truncated=${window.omitted}`);
    }
  }

  async forward(forwarded: ForwardedTurn): Promise<void> {
    if (this.turn.request.settings.background) {
      await this.background(forwarded);
      return;
    }
    if (this.turn.request.stream) {
      this.signal = forwarded.shutdown;
      await this.generate(forwarded, this.reply);
      return;
    }
    this.sendJson(await this.complete(forwarded));
  }

  /**
   * A JSON response: a JSON answer from the upstream (as a `/c1` JSON turn asks for), read by
   * the same event builder as a stream's chunks, so it stores the answer a stream would.
   * Throws, as a JSON chat answer does, when the upstream fails or the content policy blocks
   * the answer (the engine stores the turn `failed`).
   */
  private async complete(forwarded: ForwardedTurn): Promise<JsonObject> {
    const { prepared, record, answerId, requestId, log } = this.turn;
    const shutdown = forwarded.shutdown;
    let completed: CompletedChat;
    try {
      completed = await this.deps.chat.complete(prepared, {
        signal: shutdown,
        requestId,
        log,
        affinityKey: record.conversationId || undefined,
      });
    } catch (thrown) {
      // Cut by the shutdown: answered as such, not as a failed upstream.
      throw shutdown.aborted && shutdown.reason instanceof ApiError ? shutdown.reason : thrown;
    }
    const choice = assembleCompletion(completed.json).choices[0];
    if (!choice) {
      throw new ApiError(
        'upstream_error',
        `The model server for "${prepared.model.alias}" answered without a choice`,
      );
    }
    const builder = new ResponseEventBuilder(answerId);
    builder.pushChoice(choice);
    const settled = await forwarded.settle({
      status: 'completed',
      answer: { message: builder.answer(), finishReason: builder.reason, usage: completed.usage },
    });
    return toResponseObject(viewOf(record, settled.assistant));
  }

  /**
   * A background response: the generation runs in the gateway, detached from this request
   * (tracked by the lifecycle like any turn: a shutdown waits for it, then stops it and stores
   * what arrived), its events stored as they come. Answers at once with the queued response,
   * or, with `stream: true`, streams it to this client as well.
   */
  private async background(forwarded: ForwardedTurn): Promise<void> {
    const { record, request } = this.turn;
    const { responses, runs, lifecycle, config, clock } = this.deps;
    const stop = new AbortController();
    const cancel = () => {
      this.isCancelled = true;
      record.cancelRequestedAt = clock();
      stop.abort();
    };
    const durable = new DurableEventSink(
      responses,
      this.turn.log,
      record.id,
      Math.max(1_000, config.responses.backgroundStaleMs / 4),
      cancel,
    );
    this.durable = durable;
    this.signal = stop.signal;
    const work = lifecycle.track('turn', () => stop.abort(shutdownError()));
    runs.register(record.id, cancel);
    const output = request.stream ? this.reply : new NoClientOutput();
    const generation = this.generate(forwarded, output)
      .catch(async (error: unknown) => {
        // Failed before the upstream answered: stored failed (unless it was); end the log too.
        this.turn.log.warn(
          { context: 'responses' },
          `background response ${record.id} failed: ${String(error)}`,
        );
        const messages = await responses.turnMessages(record.id).catch(() => []);
        const builder = new ResponseEventBuilder(this.turn.answerId);
        durable.send([
          ...builder.start(toResponseObject(viewOf(record, null))),
          ...builder.finish(toResponseObject(viewOfTurn(record, messages))),
        ]);
        await durable.end();
      })
      .finally(() => {
        runs.unregister(record.id);
        work.done();
      });
    if (request.stream) {
      await generation;
      return;
    }
    const queued = { ...toResponseObject(viewOf(record, null)), status: 'queued' };
    this.sendJson(queued);
  }

  /**
   * Forwards the turn through the stream runner and settles it before the stream's last
   * bytes (the final events carry the stored response). Throws when the upstream failed
   * before answering (nothing was settled then, except for a background run, settled here).
   */
  private async generate(forwarded: ForwardedTurn, output: SseOutput): Promise<void> {
    const { prepared, record, answerId, requestId, log } = this.turn;
    const builder = new ResponseEventBuilder(answerId);
    let adapter: ResponsesStreamAdapter | null = null;
    let isFinal = false;
    const finalText = (response: JsonObject) => {
      isFinal = true;
      if (adapter) {
        return adapter.finalText(response);
      }
      // No upstream answered: the response starts and ends here.
      const events = [...builder.start(this.started()), ...builder.finish(response)];
      this.durable?.send(events);
      return serializeResponseEvents(events);
    };
    try {
      await this.deps.runner.run({
        reply: output,
        open: (signal) =>
          this.deps.chat.open(prepared, {
            signal,
            requestId,
            log,
            affinityKey: record.conversationId || undefined,
          }),
        adapter: (call) =>
          (adapter = this.adapterFor(builder, output === this.reply, (observe) =>
            call.wire.chatStream({
              alias: prepared.model.alias,
              clientWantsUsage: true,
              collect: false,
              observe,
            }),
          )),
        usage: {
          auth: prepared.auth,
          alias: prepared.model.alias,
          prompt: () => prepared.body.messages,
        },
        inspect: this.deps.chat.outputInspector(prepared),
        // Only when `beforeEnd` did not give the last bytes (it threw): the final events need
        // the stored answer. Called ahead of `beforeEnd`, so it must not touch the builder.
        formatError: (error) => serializeResponseEvent(builder.error(error.code, error.message)),
        onClientGone: forwarded.onClientGone,
        assembled: true,
        signal: this.signal ?? undefined,
        headers: this.appliedHeaders(),
        beforeEnd: async (result) => {
          const message = builder.answer();
          const code = this.isCancelled ? 'cancelled' : (result.error?.code ?? 'upstream_error');
          // `failed` keeps nothing of what arrived (an answer the content policy blocked).
          const isFailed =
            result.outcome === 'failed' ||
            (result.outcome !== 'completed' && message.parts.length === 0);
          const outcome: TurnOutcome = isFailed
            ? { status: 'failed', errorCode: code }
            : {
                status: result.outcome === 'completed' ? 'completed' : 'incomplete',
                answer: { message, finishReason: builder.reason, usage: result.usage },
              };
          const settled = await forwarded.settle(outcome);
          const text = finalText(toResponseObject(viewOf(record, settled.assistant)));
          await this.durable?.end();
          return text;
        },
      });
    } catch (error) {
      if (!isFinal && this.turn.request.settings.background) {
        await forwarded.settle({ status: 'failed', errorCode: codeOf(error) });
      }
      throw error;
    }
  }

  private adapterFor(
    builder: ResponseEventBuilder,
    isRead: boolean,
    chatStream: ConstructorParameters<typeof ResponsesStreamAdapter>[0],
  ): ResponsesStreamAdapter {
    return new ResponsesStreamAdapter(
      chatStream,
      builder,
      this.started(),
      (events) => this.durable?.send(events),
      isRead,
    );
  }

  /** The response as it starts: `in_progress`, no output yet. */
  private started(): JsonObject {
    return toResponseObject(viewOf(this.turn.record, null));
  }

  private appliedHeaders(): Record<string, string> {
    const applied = this.deps.chat.appliedHeader(this.turn.prepared);
    return applied ? { [HEADER.applied]: applied } : {};
  }

  private sendJson(body: JsonObject) {
    void this.reply
      .status(200)
      .headers(this.appliedHeaders())
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify(body));
  }
}

function codeOf(error: unknown): string {
  return error instanceof ApiError ? error.code : 'internal_error';
}
