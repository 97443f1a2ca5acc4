import { ApiError } from 'src/common/errors/api-error';
import anthropicToOpenAI from 'src/modules/proxy/wire/anthropic/__fixtures__/anthropic-to-openai-responses.json';
import openAIToAnthropic from 'src/modules/proxy/wire/anthropic/__fixtures__/openai-to-anthropic-responses.json';
import { openAIResponseToAnthropic } from 'src/modules/proxy/wire/anthropic/response-from-openai';
import { anthropicResponseToOpenAI } from 'src/modules/proxy/wire/anthropic/response-to-openai';

describe(openAIResponseToAnthropic.name, () => {
  it.each(openAIToAnthropic.map((c) => [c.name, c] as const))('translates: %s', (_name, c) => {
    expect(openAIResponseToAnthropic(c.openai, c.options)).toEqual(c.anthropic);
  });

  const broken: Array<[string, unknown]> = [
    ['not an object', 'oops'],
    ['no choices', { id: 'x', object: 'chat.completion' }],
    ['an empty choice list', { id: 'x', choices: [] }],
    [
      'tool arguments that are not JSON',
      {
        choices: [
          {
            message: {
              role: 'assistant',
              tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{"a":' } }],
            },
          },
        ],
      },
    ],
    [
      'tool arguments that are a JSON array',
      {
        choices: [
          {
            message: {
              role: 'assistant',
              tool_calls: [{ id: 'c', function: { name: 'f', arguments: '[1]' } }],
            },
          },
        ],
      },
    ],
    [
      'a tool call without a name',
      { choices: [{ message: { role: 'assistant', tool_calls: [{ id: 'c', function: {} }] } }] },
    ],
  ];

  it.each(broken)('answers 502 upstream_error for an upstream answer with %s', (_name, body) => {
    let error: unknown;
    try {
      openAIResponseToAnthropic(body, { model: 'm' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('upstream_error');
  });
});

describe(anthropicResponseToOpenAI.name, () => {
  it.each(anthropicToOpenAI.map((c) => [c.name, c] as const))('translates: %s', (_name, c) => {
    expect(anthropicResponseToOpenAI(c.anthropic, c.options)).toEqual(c.openai);
  });

  it('answers 502 upstream_error for a body that is not a message', () => {
    expect(() => anthropicResponseToOpenAI({ type: 'error' }, { model: 'm', created: 0 })).toThrow(
      ApiError,
    );
  });
});
