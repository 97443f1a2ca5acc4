import { TokenUsage } from 'src/common/types/usage-sink';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import type { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { OpenAIUpstreamToMessagesStream } from 'src/modules/proxy/wire/anthropic/sse-adapters';
import type {
  MessagesStreamAdapter,
  MessagesStreamContext,
} from 'src/modules/proxy/wire/wire-format';

/** Messages clients of an `openai` upstream: each chunk translated to Anthropic events. */
export class OpenAIToMessagesAdapter implements MessagesStreamAdapter {
  private readonly translator: OpenAIUpstreamToMessagesStream;
  contentEvents = 0;

  constructor(context: MessagesStreamContext) {
    this.translator = new OpenAIUpstreamToMessagesStream({
      model: context.alias,
      stopSequences: context.stopSequences,
      collect: context.collect,
    });
  }

  get usage(): TokenUsage | null {
    return this.translator.usage;
  }

  isTerminal(): boolean {
    return this.translator.isFinished;
  }

  push(event: SseEvent): string | null {
    if (!event.isComment) {
      this.contentEvents++;
    }
    return this.translator.push(event);
  }

  message(): AnthropicResponse | null {
    const assembler = this.translator.assembler;
    return assembler?.hasStarted ? assembler.message() : null;
  }
}
