import { ApiError } from 'src/common/errors/api-error';
import { ErrorCode } from 'src/common/errors/error-catalog';
import cases from 'src/modules/proxy/wire/anthropic/__fixtures__/anthropic-to-openai-requests.json';
import { anthropicRequestToOpenAI } from 'src/modules/proxy/wire/anthropic/request-to-openai';

const base = { model: 'm', max_tokens: 16 };
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

function errorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) {
      return e;
    }
    throw e;
  }
  throw new Error('expected an ApiError');
}

describe(anthropicRequestToOpenAI.name, () => {
  it.each(cases.map((c) => [c.name, c] as const))('translates: %s', (_name, c) => {
    expect(anthropicRequestToOpenAI(c.anthropic).body).toEqual(c.openai);
  });

  const invalid: Array<[string, unknown, ErrorCode, string | null]> = [
    ['a body that is not an object', [], 'invalid_field', null],
    ['no model', { max_tokens: 5, messages: [] }, 'missing_field', 'model'],
    ['no max_tokens', { model: 'm', messages: [] }, 'missing_field', 'max_tokens'],
    ['max_tokens 0', { ...base, max_tokens: 0, messages: [] }, 'invalid_field', 'max_tokens'],
    ['max_tokens as a string', { ...base, max_tokens: '5' }, 'invalid_field', 'max_tokens'],
    ['no messages', base, 'missing_field', 'messages'],
    ['messages not an array', { ...base, messages: {} }, 'invalid_field', 'messages'],
    ['empty messages', { ...base, messages: [] }, 'invalid_field', 'messages'],
    [
      'a system role inside messages',
      { ...base, messages: [{ role: 'system', content: 'x' }] },
      'invalid_field',
      'messages[0].role',
    ],
    [
      'a message without content',
      { ...base, messages: [{ role: 'user' }] },
      'missing_field',
      'messages[0].content',
    ],
    [
      'a block without a type',
      { ...base, messages: [{ role: 'user', content: [{ text: 'x' }] }] },
      'invalid_field',
      'messages[0].content[0].type',
    ],
    [
      'a text block whose text is not a string',
      { ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 3 }] }] },
      'invalid_field',
      'messages[0].content[0].text',
    ],
    [
      'an image from the Files API',
      {
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] },
        ],
      },
      'invalid_field',
      'messages[0].content[0].source.type',
    ],
    [
      'a document URL (the model server would fetch it)',
      {
        ...base,
        messages: [
          {
            role: 'user',
            content: [{ type: 'document', source: { type: 'url', url: 'http://10.0.0.1/x.pdf' } }],
          },
        ],
      },
      'media_url_not_supported',
      'messages[0].content[0].source.url',
    ],
    [
      'a tool_use block in a user message',
      {
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'tool_use', id: 't', name: 'n', input: {} }] },
        ],
      },
      'invalid_field',
      'messages[0].content[0].type',
    ],
    [
      'a tool_use whose input is not an object',
      {
        ...base,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'n', input: '{}' }] },
        ],
      },
      'invalid_field',
      'messages[1].content[0].input',
    ],
    [
      'a tool_result without tool_use_id',
      { ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }] },
      'invalid_field',
      'messages[0].content[0].tool_use_id',
    ],
    [
      'an Anthropic server tool',
      {
        ...base,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      },
      'invalid_field',
      'tools[0].type',
    ],
    [
      'a tool without input_schema',
      { ...base, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'a' }] },
      'invalid_field',
      'tools[0].input_schema',
    ],
    [
      'an unknown tool_choice',
      { ...base, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'some' } },
      'invalid_field',
      'tool_choice.type',
    ],
    [
      'tool_choice tool without a name',
      { ...base, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'tool' } },
      'invalid_field',
      'tool_choice.name',
    ],
    [
      'stop_sequences that are not strings',
      { ...base, messages: [{ role: 'user', content: 'x' }], stop_sequences: [1] },
      'invalid_field',
      'stop_sequences',
    ],
    [
      'a system block that is not text',
      { ...base, system: [{ type: 'image' }], messages: [{ role: 'user', content: 'x' }] },
      'invalid_field',
      'system[0]',
    ],
    [
      'temperature as a string',
      { ...base, temperature: 'hot', messages: [{ role: 'user', content: 'x' }] },
      'invalid_field',
      'temperature',
    ],
    [
      'metadata.user_id as a number',
      { ...base, metadata: { user_id: 5 }, messages: [{ role: 'user', content: 'x' }] },
      'invalid_field',
      'metadata.user_id',
    ],
  ];

  it.each(invalid)('rejects %s', (_name, body, code, param) => {
    const error = errorOf(() => anthropicRequestToOpenAI(body));
    expect({ code: error.code, param: error.param }).toEqual({ code, param });
  });

  it('leaves out what OpenAI cannot carry when only validating a native pass-through', () => {
    const { body } = anthropicRequestToOpenAI(
      {
        ...base,
        tools: [
          { type: 'web_search_20250305', name: 'web_search', max_uses: 5 },
          { name: 'calc', input_schema: { type: 'object' } },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'document', source: { type: 'url', url: 'https://x/y.pdf' } },
              { type: 'search_result', source: 's', title: 't', content: [] },
              { type: 'text', text: 'hi' },
            ],
          },
        ],
      },
      { untranslatable: 'omit' },
    );
    expect(body.tools).toEqual([
      { type: 'function', function: { name: 'calc', parameters: { type: 'object' } } },
    ]);
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  describe('toAnthropicParam', () => {
    const request = {
      ...base,
      system: 'sys',
      tools: [{ name: 'calc', input_schema: { type: 'object' } }],
      messages: [
        { role: 'user', content: 'first' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'calling' },
            { type: 'tool_use', id: 't1', name: 'calc', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            {
              type: 'tool_result',
              tool_use_id: 't1',
              content: [
                { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
              ],
            },
            { type: 'text', text: 'and' },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.png' } },
            { type: 'image', source: { type: 'base64', media_type: 'image/gif', data: 'AAAA' } },
          ],
        },
      ],
    };
    // OpenAI body: [0] system, [1] user, [2] assistant, [3] tool, [4] user(tool image, text, url, base64)
    const table: Array<[string | null, string | null]> = [
      [null, null],
      ['model', 'model'],
      ['max_tokens', 'max_tokens'],
      ['max_completion_tokens', 'max_tokens'],
      ['stop', 'stop_sequences'],
      ['stop[1]', 'stop_sequences[1]'],
      ['user', 'metadata.user_id'],
      ['tools[0].function.parameters', 'tools[0].input_schema'],
      ['tools[0].function.name', 'tools[0].name'],
      ['messages[0].content', 'system'],
      ['messages[1].content', 'messages[0].content'],
      ['messages[1]', 'messages[0]'],
      ['messages[1].role', 'messages[0].role'],
      ['messages[2].content', 'messages[1].content'],
      ['messages[2].tool_calls[0].function.arguments', 'messages[1].content[1].input'],
      ['messages[3].content', 'messages[2].content[0].content'],
      ['messages[4].content[0].image_url.url', 'messages[2].content[0].content[0].source.data'],
      ['messages[4].content[1].text', 'messages[2].content[1].text'],
      ['messages[4].content[2].image_url.url', 'messages[2].content[2].source.url'],
      ['messages[4].content[3].image_url.url', 'messages[2].content[3].source.data'],
      ['messages[4].content[3]', 'messages[2].content[3]'],
      ['messages[9].content', 'messages[9].content'],
      ['temperature', 'temperature'],
    ];
    const { toAnthropicParam } = anthropicRequestToOpenAI(request);
    it.each(table)('maps %s to %s', (openai, anthropic) => {
      expect(toAnthropicParam(openai)).toBe(anthropic);
    });
  });
});
