import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorEnvelope } from 'src/common/errors/api-error';
import { AnthropicMessageAssembler } from 'src/modules/proxy/wire/anthropic/message-assembler';
import {
  OpenAIToAnthropicStream,
  OpenAIToAnthropicStreamOptions,
  serializeAnthropicEvent,
} from 'src/modules/proxy/wire/anthropic/stream-from-openai';
import {
  AnthropicToOpenAIStream,
  AnthropicToOpenAIStreamOptions,
  serializeOpenAIStreamOutput,
} from 'src/modules/proxy/wire/anthropic/stream-to-openai';
import { parseSseFrames } from 'test/support/sse-frames';
import toolCallsContent from 'src/modules/proxy/wire/anthropic/__fixtures__/streams/openai-tool-calls.anthropic-content.json';

const fixture = (name: string) =>
  readFileSync(join(__dirname, '__fixtures__', 'streams', name), 'utf8');

/** Feeds a recorded OpenAI stream through the mapper the way the gateway does. */
function openAIToAnthropic(input: string, options: OpenAIToAnthropicStreamOptions): string {
  const mapper = new OpenAIToAnthropicStream(options);
  let out = '';
  for (const frame of parseSseFrames(input)) {
    const events = frame.data === '[DONE]' ? mapper.finish() : mapper.push(JSON.parse(frame.data));
    out += events.map(serializeAnthropicEvent).join('');
  }
  return out;
}

function anthropicToOpenAI(input: string, options: AnthropicToOpenAIStreamOptions): string {
  const mapper = new AnthropicToOpenAIStream(options);
  return parseSseFrames(input)
    .flatMap((frame) => mapper.push(JSON.parse(frame.data)))
    .map(serializeOpenAIStreamOutput)
    .join('');
}

describe(OpenAIToAnthropicStream.name, () => {
  const table: Array<[string, string, OpenAIToAnthropicStreamOptions]> = [
    ['openai-text.sse', 'anthropic-from-openai-text.sse', { model: 'llama-4-scout' }],
    ['openai-tool-calls.sse', 'anthropic-from-openai-tool-calls.sse', { model: 'qwen3' }],
    [
      'openai-stop-sequence.sse',
      'anthropic-from-openai-stop-sequence.sse',
      { model: 'counter', stopSequences: ['END'] },
    ],
  ];

  it.each(table)('maps %s to exactly %s', (input, expected, options) => {
    expect(openAIToAnthropic(fixture(input), options)).toBe(fixture(expected));
  });

  it('names every frame after the type of its data', () => {
    for (const [, expected] of table) {
      for (const frame of parseSseFrames(fixture(expected))) {
        expect((JSON.parse(frame.data) as { type: string }).type).toBe(frame.event);
      }
    }
  });

  it('starts a tool_use block only once the name is known, with the arguments held back', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    const chunk = (toolCall: object) => ({
      id: 'c1',
      choices: [{ index: 0, delta: { tool_calls: [toolCall] }, finish_reason: null }],
    });
    expect(mapper.push(chunk({ index: 0, id: 'call_1', function: { arguments: '{"a"' } }))).toEqual(
      [expect.objectContaining({ type: 'message_start' }), { type: 'ping' }],
    );
    expect(mapper.push(chunk({ index: 0, function: { name: 'f', arguments: ':1}' } }))).toEqual([
      {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: '{"a":1}' },
      },
    ]);
  });

  it('gives a tool call without an id one that is unique in the message', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    const events = mapper.push({
      id: 'chatcmpl-9',
      choices: [
        {
          index: 0,
          delta: {
            tool_calls: [
              { index: 0, function: { name: 'a', arguments: '{}' } },
              { index: 1, function: { name: 'b', arguments: '{}' } },
            ],
          },
          finish_reason: null,
        },
      ],
    });
    const ids = events.flatMap((e) =>
      e.type === 'content_block_start' && e.content_block.type === 'tool_use'
        ? [e.content_block.id]
        : [],
    );
    expect(ids).toEqual(['toolu_chatcmpl-9_0', 'toolu_chatcmpl-9_1']);
  });

  it('reports whether the upstream gave a finish reason, so a cut stream can be told apart', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    mapper.push({
      id: 'x',
      choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }],
    });
    expect(mapper.hasFinishReason).toBe(false);
    mapper.push({ id: 'x', choices: [{ index: 0, delta: {}, finish_reason: 'length' }] });
    expect(mapper.hasFinishReason).toBe(true);
    expect(mapper.finish().find((e) => e.type === 'message_delta')).toMatchObject({
      delta: { stop_reason: 'max_tokens', stop_sequence: null },
    });
  });

  it('ends a broken stream with one error event carrying the catalog envelope, then nothing', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    mapper.push({
      id: 'x',
      choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }],
    });
    const events = mapper.fail(errorEnvelope('upstream_timeout', 'The upstream stopped answering'));
    expect(events.map(serializeAnthropicEvent).join('')).toBe(
      'event: error\ndata: {"type":"error","error":{"type":"upstream_error","code":"upstream_timeout",' +
        '"message":"The upstream stopped answering","param":null}}\n\n',
    );
    expect(mapper.finish()).toEqual([]);
    expect(mapper.push({ id: 'x', choices: [] })).toEqual([]);
    expect(mapper.ping()).toEqual([]);
    expect(mapper.isFinished).toBe(true);
  });

  it('turns an error payload inside the upstream stream into the error event', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    expect(mapper.push({ error: { message: 'CUDA out of memory', code: 500 } })).toEqual([
      {
        type: 'error',
        error: {
          type: 'upstream_error',
          code: 'upstream_error',
          message: 'The model server reported: CUDA out of memory',
          param: null,
        },
      },
    ]);
  });

  it('answers a stream with no chunk at all with a complete, empty message', () => {
    const mapper = new OpenAIToAnthropicStream({ model: 'm' });
    expect(mapper.finish().map((e) => e.type)).toEqual([
      'message_start',
      'ping',
      'message_delta',
      'message_stop',
    ]);
  });

  it('assembles the same message from the stream as from the JSON answer', () => {
    const assembler = new AnthropicMessageAssembler();
    for (const frame of parseSseFrames(fixture('anthropic-from-openai-tool-calls.sse'))) {
      assembler.push(JSON.parse(frame.data));
    }
    expect(assembler.isComplete).toBe(true);
    expect(assembler.message()).toEqual({
      id: 'msg_chatcmpl-B1x',
      type: 'message',
      role: 'assistant',
      model: 'qwen3',
      content: toolCallsContent,
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 24,
        output_tokens: 47,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 64,
      },
    });
  });
});

describe(AnthropicToOpenAIStream.name, () => {
  const options = { model: 'claude', created: 1741569952 };

  it('maps a recorded Anthropic tool-use stream to exactly the OpenAI chunks', () => {
    expect(
      anthropicToOpenAI(fixture('anthropic-tool-use.sse'), { ...options, includeUsage: true }),
    ).toBe(fixture('openai-from-anthropic-tool-use.sse'));
  });

  it('leaves the usage chunk out when the client did not ask for it', () => {
    const out = anthropicToOpenAI(fixture('anthropic-tool-use.sse'), {
      ...options,
      includeUsage: false,
    });
    expect(out).not.toContain('"usage"');
    expect(
      out.endsWith('"finish_reason":"tool_calls","logprobs":null}]}\n\ndata: [DONE]\n\n'),
    ).toBe(true);
  });

  it('ends with the catalog error event when the upstream stream reports an error', () => {
    expect(
      anthropicToOpenAI(fixture('anthropic-overloaded.sse'), { ...options, includeUsage: true }),
    ).toBe(fixture('openai-from-anthropic-overloaded.sse'));
  });

  it('exposes the usage for bookkeeping and stops after message_stop', () => {
    const mapper = new AnthropicToOpenAIStream({ ...options, includeUsage: false });
    expect(mapper.usage).toBeNull();
    for (const frame of parseSseFrames(fixture('anthropic-tool-use.sse'))) {
      mapper.push(JSON.parse(frame.data));
    }
    expect(mapper.isFinished).toBe(true);
    expect(mapper.usage).toEqual({ prompt_tokens: 472, completion_tokens: 89, total_tokens: 561 });
    expect(mapper.push({ type: 'message_stop' })).toEqual([]);
    expect(mapper.fail(errorEnvelope('upstream_error', 'late'))).toEqual([]);
  });

  it('round-trips: OpenAI chunks → Anthropic events → OpenAI chunks keep text and tool calls', () => {
    const anthropic = openAIToAnthropic(fixture('openai-tool-calls.sse'), { model: 'qwen3' });
    const back = anthropicToOpenAI(anthropic, { ...options, includeUsage: true });
    const chunks = parseSseFrames(back)
      .filter((f) => f.data !== '[DONE]')
      .map((f) => JSON.parse(f.data));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])
      .reduce((acc: string[], call: any) => {
        acc[call.index] = (acc[call.index] ?? '') + (call.function?.arguments ?? '');
        return acc;
      }, []);
    expect(text).toBe('Checking.');
    expect(args.map((a: string) => JSON.parse(a))).toEqual([
      { location: 'Paris' },
      { location: 'Oslo' },
    ]);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1).usage).toEqual({
      prompt_tokens: 88,
      completion_tokens: 47,
      total_tokens: 135,
      prompt_tokens_details: { cached_tokens: 64 },
    });
  });
});

describe(AnthropicMessageAssembler.name, () => {
  it('rebuilds a native Anthropic stream into the message it describes', () => {
    const assembler = new AnthropicMessageAssembler();
    for (const frame of parseSseFrames(fixture('anthropic-tool-use.sse'))) {
      assembler.push(JSON.parse(frame.data));
    }
    expect(assembler.message()).toEqual({
      id: 'msg_014p7gG3wDgGV9EUtLvnow3U',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [
        {
          type: 'thinking',
          thinking: 'The user asks for the weather.',
          signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
        },
        { type: 'text', text: "Okay, let's check the weather." },
        {
          type: 'tool_use',
          id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6',
          name: 'get_weather',
          input: { location: 'San Francisco, CA' },
        },
        {
          type: 'tool_use',
          id: 'toolu_02Zz',
          name: 'get_time',
          input: { tz: 'America/Los_Angeles' },
        },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 472,
        output_tokens: 89,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    });
  });

  it('is not complete when the stream broke before message_stop', () => {
    const assembler = new AnthropicMessageAssembler();
    for (const frame of parseSseFrames(fixture('anthropic-overloaded.sse'))) {
      assembler.push(JSON.parse(frame.data));
    }
    expect(assembler.isComplete).toBe(false);
    expect(assembler.message().content).toEqual([{ type: 'text', text: 'Partial' }]);
  });
});
