import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from 'src/common/errors/api-error';
import { SseDecoder, SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import {
  AnthropicPassThroughStream,
  AnthropicUpstreamToChatStream,
  formatAnthropicStreamError,
  OpenAIUpstreamToMessagesStream,
  tokenUsageFromAnthropic,
} from 'src/modules/proxy/wire/anthropic/sse-adapters';
import toolCallsContent from 'src/modules/proxy/wire/anthropic/__fixtures__/streams/openai-tool-calls.anthropic-content.json';

const events = (name: string): SseEvent[] => {
  const decoder = new SseDecoder();
  const text = readFileSync(join(__dirname, '__fixtures__', 'streams', name), 'utf8');
  return [...decoder.push(text), ...decoder.end()];
};

const thrown = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (e) {
    return e as ApiError;
  }
  throw new Error('expected a throw');
};

describe(OpenAIUpstreamToMessagesStream.name, () => {
  it('writes the Anthropic sequence for a recorded stream and finishes at [DONE]', () => {
    const adapter = new OpenAIUpstreamToMessagesStream({ model: 'llama-4-scout' });
    const out = events('openai-text.sse').map((e) => adapter.push(e) ?? '');
    expect(out.join('')).toBe(
      readFileSync(
        join(__dirname, '__fixtures__', 'streams', 'anthropic-from-openai-text.sse'),
        'utf8',
      ),
    );
    expect(adapter.isFinished).toBe(true);
    expect(adapter.usage).toEqual({ promptTokens: 12, completionTokens: 5 });
  });

  it('assembles the message it sends with collect (what /c1/messages stores)', () => {
    const adapter = new OpenAIUpstreamToMessagesStream({ model: 'llama-4-scout', collect: true });
    for (const event of events('openai-tool-calls.sse')) {
      adapter.push(event);
    }
    expect(adapter.assembler?.message()).toMatchObject({
      model: 'llama-4-scout',
      content: toolCallsContent,
      stop_reason: 'tool_use',
    });
    expect(new OpenAIUpstreamToMessagesStream({ model: 'm' }).assembler).toBeNull();
  });

  it('drops comments and throws upstream_error for an error payload', () => {
    const adapter = new OpenAIUpstreamToMessagesStream({ model: 'm' });
    expect(adapter.push({ raw: ': keep-alive', data: '', isComment: true })).toBeNull();
    const error = thrown(() =>
      adapter.push({ raw: '', data: '{"object":"error","message":"boom"}', isComment: false }),
    );
    expect({ code: error.code, message: error.message }).toEqual({
      code: 'upstream_error',
      message: 'The model server reported: boom',
    });
  });

  it('throws upstream_error for an event that is not JSON', () => {
    const adapter = new OpenAIUpstreamToMessagesStream({ model: 'm' });
    expect(thrown(() => adapter.push({ raw: '', data: '{oops', isComment: false })).code).toBe(
      'upstream_error',
    );
  });
});

describe(AnthropicUpstreamToChatStream.name, () => {
  it('translates a recorded Anthropic stream, a ping becoming a comment', () => {
    const adapter = new AnthropicUpstreamToChatStream({
      model: 'claude',
      created: 1741569952,
      includeUsage: true,
    });
    const outputs = events('anthropic-tool-use.sse').map((e) => adapter.push(e));
    expect(outputs[1]).toEqual({ text: ': ping\n\n', chunks: [] });
    expect(
      outputs
        .map((o) => o.text ?? '')
        .join('')
        .replace(': ping\n\n', ''),
    ).toBe(
      readFileSync(
        join(__dirname, '__fixtures__', 'streams', 'openai-from-anthropic-tool-use.sse'),
        'utf8',
      ),
    );
    expect(adapter.isFinished).toBe(true);
    expect(adapter.usage).toEqual({ promptTokens: 472, completionTokens: 89 });
  });

  it('throws upstream_error with the upstream message for an error event', () => {
    const adapter = new AnthropicUpstreamToChatStream({
      model: 'c',
      created: 0,
      includeUsage: false,
    });
    const [, , , error] = events('anthropic-overloaded.sse');
    expect(thrown(() => adapter.push(error)).message).toBe('The model server reported: Overloaded');
  });
});

describe(AnthropicPassThroughStream.name, () => {
  it('watches a native stream for its end, usage and message', () => {
    const watcher = new AnthropicPassThroughStream();
    for (const event of events('anthropic-tool-use.sse')) {
      watcher.observe(event);
    }
    expect(watcher.isFinished).toBe(true);
    expect(watcher.usage).toEqual({ promptTokens: 472, completionTokens: 89 });
    expect(watcher.assembler.message().content).toHaveLength(4);
  });

  it('throws upstream_error for the upstream error event', () => {
    const watcher = new AnthropicPassThroughStream();
    const all = events('anthropic-overloaded.sse');
    for (const event of all.slice(0, 3)) {
      watcher.observe(event);
    }
    expect(thrown(() => watcher.observe(all[3])).code).toBe('upstream_error');
    expect(watcher.isFinished).toBe(false);
  });
});

describe(formatAnthropicStreamError.name, () => {
  it('frames the catalog error as an Anthropic error event', () => {
    expect(formatAnthropicStreamError(new ApiError('upstream_timeout', 'too slow'))).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"upstream_error","code":"upstream_timeout","message":"too slow","param":null}}\n\n',
    );
  });
});

describe(tokenUsageFromAnthropic.name, () => {
  it('counts cache reads and writes as prompt tokens', () => {
    expect(
      tokenUsageFromAnthropic({
        input_tokens: 5,
        cache_creation_input_tokens: 10,
        cache_read_input_tokens: 100,
        output_tokens: 7,
      }),
    ).toEqual({ promptTokens: 115, completionTokens: 7 });
    expect(tokenUsageFromAnthropic(null)).toBeNull();
  });
});
