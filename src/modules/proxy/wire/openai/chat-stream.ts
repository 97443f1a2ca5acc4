import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import type { ChatStreamAdapter, ChatStreamContext } from 'src/modules/proxy/wire/wire-format';
import {
  AssembledCompletion,
  OpenAiStreamAccumulator,
} from 'src/modules/proxy/wire/openai/stream-accumulator';
import {
  chunkErrorMessage,
  isOpenAiDone,
  isUsageOnlyChunk,
  mayCarryError,
  mayCarryUsage,
  mayMatterBytes,
  readUsage,
} from 'src/modules/proxy/wire/openai/stream-events';
import { JsonObject } from 'src/kernel/json';

/**
 * A Chat Completions stream from an `openai` upstream to a Chat Completions client: events pass
 * through as the upstream wrote them. Chunks are parsed only when they may carry usage or an
 * error (substring tests, on the bytes in `skim`), or every one when the answer is collected
 * (/c1). The usage-only chunk Parley asked for is dropped unless the client asked for it; an
 * upstream error event becomes `upstream_error` with its message.
 */
export class OpenAIChatPassThrough implements ChatStreamAdapter {
  private readonly accumulator: OpenAiStreamAccumulator | null;
  usage: TokenUsage | null = null;
  contentEvents = 0;

  constructor(private readonly context: ChatStreamContext) {
    this.accumulator = context.collect ? new OpenAiStreamAccumulator() : null;
  }

  isTerminal(event: SseEvent): boolean {
    return isOpenAiDone(event);
  }

  completion(): AssembledCompletion | null {
    return this.accumulator?.result() ?? null;
  }

  skim(bytes: Buffer, start: number, end: number): boolean {
    if (this.accumulator || this.context.observe || mayMatterBytes(bytes, start, end)) {
      return false;
    }
    this.contentEvents++;
    return true;
  }

  push(event: SseEvent): string | null | undefined {
    if (event.isComment || event.data === '[DONE]') {
      this.context.observe?.(event, null);
      return undefined;
    }
    this.contentEvents++;
    const data = event.data;
    const hasUsage = mayCarryUsage(data);
    const hasError = mayCarryError(data);
    const chunk =
      this.accumulator || hasUsage || hasError || this.context.observe ? parseChunk(data) : null;
    const errorMessage = chunk && hasError ? chunkErrorMessage(chunk) : null;
    if (errorMessage !== null) {
      throw new ApiError('upstream_error', `The model server reported: ${errorMessage}`);
    }
    this.accumulator?.push(chunk);
    this.context.observe?.(event, chunk);
    if (hasUsage && chunk) {
      this.usage = readUsage(chunk) ?? this.usage;
      if (!this.context.clientWantsUsage && isUsageOnlyChunk(chunk)) {
        this.contentEvents--;
        return null;
      }
    }
    return undefined;
  }
}

function parseChunk(data: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}
