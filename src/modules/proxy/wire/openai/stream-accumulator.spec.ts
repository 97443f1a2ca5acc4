import {
  assembleCompletion,
  OpenAiStreamAccumulator,
} from 'src/modules/proxy/wire/openai/stream-accumulator';

const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'm' };
const chunk = (delta: object, finish: string | null = null, index = 0) => ({
  ...base,
  choices: [{ index, delta, finish_reason: finish }],
});
const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };

function accumulate(chunks: unknown[]) {
  const acc = new OpenAiStreamAccumulator();
  chunks.forEach((c) => acc.push(c));
  return acc.result();
}

/** Recorded pairs: a streamed answer and the non-streamed answer of the same turn. */
/** The OpenAI assistant message the tool-call stream assembles to, as a JSON answer has it. */
const TOOL_CALLS_CHOICE = {
  index: 0,
  message: {
    role: 'assistant',
    content: null,
    tool_calls: [
      {
        id: 'call_a',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      },
      { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ],
  },
  finish_reason: 'tool_calls',
};

const FIXTURES: { name: string; chunks: unknown[]; json: unknown }[] = [
  {
    name: 'plain text with a usage chunk',
    chunks: [
      chunk({ role: 'assistant', content: '' }),
      chunk({ content: 'Hello' }),
      chunk({ content: ', world' }),
      chunk({}, 'stop'),
      { ...base, choices: [], usage },
    ],
    json: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1700000000,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello, world' },
          finish_reason: 'stop',
        },
      ],
      usage,
    },
  },
  {
    name: 'tool calls with arguments in pieces, no text',
    chunks: [
      chunk({ role: 'assistant', content: null }),
      chunk({
        tool_calls: [
          {
            index: 0,
            id: 'call_a',
            type: 'function',
            function: { name: 'get_weather', arguments: '' },
          },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({
        tool_calls: [
          {
            index: 1,
            id: 'call_b',
            type: 'function',
            function: { name: 'get_time', arguments: '{}' },
          },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
    ],
    json: {
      ...base,
      object: 'chat.completion',
      choices: [TOOL_CALLS_CHOICE],
    },
  },
  {
    name: 'reasoning (vLLM reasoning_content) then text',
    chunks: [
      chunk({ role: 'assistant', reasoning_content: 'Think' }),
      chunk({ reasoning_content: 'ing.' }),
      chunk({ content: '42' }),
      chunk({}, 'stop'),
    ],
    json: {
      ...base,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: '42', reasoning_content: 'Thinking.' },
          finish_reason: 'stop',
        },
      ],
    },
  },
  {
    name: 'two choices (n = 2), interleaved',
    chunks: [
      chunk({ content: 'A' }, null, 1),
      chunk({ content: 'B' }, null, 0),
      chunk({}, 'stop', 0),
      chunk({}, 'length', 1),
    ],
    json: {
      ...base,
      choices: [
        { index: 1, message: { role: 'assistant', content: 'A' }, finish_reason: 'length' },
        { index: 0, message: { role: 'assistant', content: 'B' }, finish_reason: 'stop' },
      ],
    },
  },
  {
    name: 'an empty answer',
    chunks: [chunk({ role: 'assistant', content: '' }), chunk({}, 'stop')],
    json: {
      ...base,
      choices: [{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'stop' }],
    },
  },
];

describe(OpenAiStreamAccumulator.name, () => {
  it.each(FIXTURES)(
    'assembles $name exactly as the non-streamed answer reads',
    ({ chunks, json }) => {
      expect(accumulate(chunks)).toEqual(assembleCompletion(json));
    },
  );

  it('produces the OpenAI assistant message shape', () => {
    const result = accumulate(FIXTURES[1].chunks);
    expect(result.choices[0]).toEqual(TOOL_CALLS_CHOICE);
    expect(accumulate(FIXTURES[0].chunks).usage).toEqual(usage);
  });

  it('keeps what arrived of a cut stream, without a finish reason', () => {
    const result = accumulate([chunk({ content: 'Hel' }), chunk({ content: 'lo' })]);
    expect(result.choices).toEqual([
      { index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: null },
    ]);
    expect(result.usage).toBeNull();
  });

  it('ignores what it cannot read', () => {
    const acc = new OpenAiStreamAccumulator();
    for (const junk of [null, 'x', 42, { choices: 'x' }, { choices: [null, { delta: 'x' }] }]) {
      acc.push(junk);
    }
    expect(acc.result().choices.map((c) => c.message.content)).toEqual([null]);
  });

  it('accepts `reasoning` as well as `reasoning_content`', () => {
    expect(accumulate([chunk({ reasoning: 'r' })]).choices[0].message.reasoning_content).toBe('r');
    expect(
      assembleCompletion({ choices: [{ message: { reasoning: 'r' } }] }).choices[0].message
        .reasoning_content,
    ).toBe('r');
  });
});
