import { PreparedChat } from 'src/kernel/prepared-request';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { CallOptions, ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { SseDecoder } from 'src/modules/proxy/sse/sse-decoder';
import { UpstreamCall, UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { IdleTimeoutError } from 'src/modules/proxy/upstream/upstream-errors';
import { estimateUsage } from 'src/modules/proxy/usage-estimate';

export interface ChunkRunResult {
  /** `completed`: the stream ended normally; `incomplete`: cut after some chunks. */
  outcome: 'completed' | 'incomplete';
  /** Why it was cut (upstream error event, timeout, cancel). */
  error: ApiError | null;
  usage: TokenUsage | null;
}

/**
 * An upstream chat stream as Chat Completions chunks, whatever the upstream speaks: the
 * request goes through `ChatCompletionsService.open` (balancing, retry, timeouts, affinity),
 * an `anthropic` upstream's events are translated by the same adapter `/v1/chat/completions`
 * uses, and usage is reported once (estimated when the stream carried none). Not tied to an
 * HTTP reply: a background response runs with nobody attached.
 */
@Injectable()
export class ChatChunkSource {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly chat: ChatCompletionsService,
    private readonly upstream: UpstreamClient,
  ) {}

  /** Opens the upstream stream; throws `ApiError` when it fails before answering. */
  open(prepared: PreparedChat, options: CallOptions): Promise<UpstreamCall> {
    return this.chat.open(prepared, options);
  }

  /**
   * Reads `call` to its end, handing each chunk to `onChunk` as it arrives. `signal` aborts
   * it (cancel, shutdown); what arrived before stays delivered.
   */
  async read(
    prepared: PreparedChat,
    call: UpstreamCall,
    onChunk: (chunk: JsonObject) => void,
    signal?: AbortSignal,
  ): Promise<ChunkRunResult> {
    const decoder = new SseDecoder();
    // The wire format's own Chat Completions adapter: an `anthropic` upstream's events arrive
    // here already translated to chunks, like an `openai` one's.
    const adapter = call.wire.chatStream({
      alias: prepared.model.alias,
      clientWantsUsage: true,
      collect: false,
      observe: (_event, chunk) => {
        if (chunk) {
          onChunk(chunk);
        }
      },
    });
    let usage: TokenUsage | null = null;
    let isDone = false;
    let error: ApiError | null = null;
    const idleMs = this.config.upstream.idleTimeoutMs;
    let idle: NodeJS.Timeout | null = null;
    const armIdle = () => {
      if (idle) {
        clearTimeout(idle);
      }
      idle = setTimeout(() => call.abort(new IdleTimeoutError(idleMs)), idleMs);
    };
    const onAbort = () => {
      const reason: unknown = signal?.reason;
      error = reason instanceof ApiError ? reason : null;
      call.abort(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    let isFirst = true;
    try {
      armIdle();
      for await (const data of call.body as AsyncIterable<Buffer>) {
        if (isFirst) {
          isFirst = false;
          this.upstream.observeFirstByte(call);
        }
        armIdle();
        for (const event of decoder.push(data)) {
          adapter.push(event);
          isDone ||= adapter.isTerminal(event);
        }
        if (isDone) {
          break;
        }
      }
    } catch (thrown) {
      if (!isDone) {
        error ??= thrown instanceof ApiError ? thrown : call.fail(thrown).error;
      }
    } finally {
      if (idle) {
        clearTimeout(idle);
      }
      signal?.removeEventListener('abort', onAbort);
      if (isDone) {
        // Leave nothing hanging: the rest of an answer after its end is not read.
        call.body.resume();
      } else {
        call.abort();
      }
    }
    if (!isDone && !error) {
      error = new ApiError(
        'upstream_error',
        `The model server for "${prepared.model.alias}" ended the stream before its end`,
      );
    }
    usage = adapter.usage;
    if (!usage) {
      usage = await estimateUsage(prepared.body.messages, Math.max(0, adapter.contentEvents - 1));
    }
    this.chat.reportUsage(prepared, usage);
    return { outcome: isDone ? 'completed' : 'incomplete', error: isDone ? null : error, usage };
  }
}
