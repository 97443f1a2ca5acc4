import { ApiError } from 'src/common/errors/api-error';
import cases from 'src/modules/proxy/wire/anthropic/__fixtures__/openai-to-anthropic-requests.json';
import {
  anthropicRequestFromNeutral,
  openAIRequestToAnthropic,
} from 'src/modules/proxy/wire/anthropic/request-to-anthropic';

describe(openAIRequestToAnthropic.name, () => {
  it.each(cases.map((c) => [c.name, c] as const))('translates: %s', (_name, c) => {
    expect(openAIRequestToAnthropic(c.openai, c.options)).toEqual(c.anthropic);
  });

  const user = { role: 'user', content: 'x' };
  const invalid: Array<[string, Record<string, unknown>, string]> = [
    ['n above 1', { messages: [user], n: 2 }, 'n'],
    [
      'a JSON response_format',
      { messages: [user], response_format: { type: 'json_object' } },
      'response_format.type',
    ],
    [
      'an audio part',
      {
        messages: [
          {
            role: 'user',
            content: [{ type: 'input_audio', input_audio: { data: 'AA', format: 'wav' } }],
          },
        ],
      },
      'messages[0].content[0].type',
    ],
    [
      'a non-PDF file',
      {
        messages: [
          {
            role: 'user',
            content: [{ type: 'file', file: { file_data: 'data:text/csv;base64,YQ==' } }],
          },
        ],
      },
      'messages[0].content[0].file',
    ],
    [
      'tool call arguments that are not a JSON object',
      {
        messages: [
          user,
          {
            role: 'assistant',
            tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: 'nope' } }],
          },
        ],
      },
      'messages[1].tool_calls[0].function.arguments',
    ],
    [
      'a tool message without tool_call_id',
      { messages: [{ role: 'tool', content: 'r' }] },
      'messages[0].tool_call_id',
    ],
    ['an unknown role', { messages: [{ role: 'function', content: 'r' }] }, 'messages[0].role'],
    ['only system messages', { messages: [{ role: 'system', content: 's' }] }, 'messages'],
    ['a zero max_tokens', { messages: [user], max_tokens: 0 }, 'max_tokens'],
    [
      'a tool that is not a function',
      { messages: [user], tools: [{ type: 'custom' }] },
      'tools[0]',
    ],
    ['an unknown tool_choice', { messages: [user], tool_choice: 'any' }, 'tool_choice'],
  ];

  it.each(invalid)('rejects %s with 400 invalid_field', (_name, body, param) => {
    let error: unknown;
    try {
      openAIRequestToAnthropic({ model: 'claude', ...body }, { defaultMaxTokens: 10 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect({ code: (error as ApiError).code, param: (error as ApiError).param }).toEqual({
      code: 'invalid_field',
      param,
    });
  });
});

describe(anthropicRequestFromNeutral.name, () => {
  it('takes the parameters from the request and the conversation from the neutral history', () => {
    expect(
      anthropicRequestFromNeutral(
        {
          model: 'claude',
          max_tokens: 300,
          temperature: 0.2,
          stream: true,
          messages: [{ role: 'user', content: 'ignored: history is rendered from the store' }],
        },
        [
          { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
          { role: 'user', parts: [{ type: 'text', text: 'Weather?' }] },
          {
            role: 'assistant',
            parts: [
              { type: 'reasoning', text: 'use the tool', signature: 'sig-1' },
              { type: 'tool_call', id: 'toolu_1', name: 'weather', arguments: '{"city":"Oslo"}' },
            ],
          },
          {
            role: 'tool',
            parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'down', isError: true }],
          },
          { role: 'user', parts: [{ type: 'text', text: 'And now?' }] },
        ],
        { defaultMaxTokens: 1000 },
      ),
    ).toEqual({
      model: 'claude',
      max_tokens: 300,
      temperature: 0.2,
      stream: true,
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'use the tool', signature: 'sig-1' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'down', is_error: true },
            { type: 'text', text: 'And now?' },
          ],
        },
      ],
    });
  });
});
