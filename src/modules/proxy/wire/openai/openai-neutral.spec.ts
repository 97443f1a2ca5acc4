import { NeutralMessage } from 'src/kernel/neutral-history';
import {
  neutralListToOpenAI,
  neutralToOpenAI,
  OpenAIMessage,
  openAIToNeutral,
  parseDataUri,
} from 'src/modules/proxy/wire/openai/openai-neutral';

const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** [name, OpenAI message, neutral form]: each row must map both ways. */
const ROUND_TRIPS: [string, OpenAIMessage, NeutralMessage][] = [
  [
    'system text',
    { role: 'system', content: 'Be brief.' },
    { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
  ],
  [
    'user string',
    { role: 'user', content: 'Hello' },
    { role: 'user', parts: [{ type: 'text', text: 'Hello' }] },
  ],
  [
    'user with name',
    { role: 'user', content: 'Hi', name: 'ann' },
    { role: 'user', parts: [{ type: 'text', text: 'Hi' }], name: 'ann' },
  ],
  [
    'user text and inline image',
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
      ],
    },
    {
      role: 'user',
      parts: [
        { type: 'text', text: 'What is this?' },
        { type: 'image', mediaType: 'image/png', data: PNG },
      ],
    },
  ],
  [
    'user image by URL (models that accept URLs)',
    { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
    { role: 'user', parts: [{ type: 'image', mediaType: null, url: 'https://x.test/a.png' }] },
  ],
  [
    'user audio (input_audio)',
    {
      role: 'user',
      content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }],
    },
    {
      role: 'user',
      parts: [{ type: 'media', kind: 'audio', mediaType: 'audio/wav', data: 'AAAA' }],
    },
  ],
  [
    'user video (data URI)',
    {
      role: 'user',
      content: [{ type: 'video_url', video_url: { url: 'data:video/mp4;base64,AAAA' } }],
    },
    {
      role: 'user',
      parts: [{ type: 'media', kind: 'video', mediaType: 'video/mp4', data: 'AAAA' }],
    },
  ],
  [
    'user file',
    {
      role: 'user',
      content: [
        {
          type: 'file',
          file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' },
        },
      ],
    },
    {
      role: 'user',
      parts: [
        {
          type: 'media',
          kind: 'file',
          mediaType: 'application/pdf',
          data: 'JVBERi0=',
          name: 'a.pdf',
        },
      ],
    },
  ],
  [
    'assistant text',
    { role: 'assistant', content: 'Sure.' },
    { role: 'assistant', parts: [{ type: 'text', text: 'Sure.' }] },
  ],
  [
    'assistant tool calls without text',
    {
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_1',
          type: 'function',
          function: { name: 'get_weather', arguments: '{"city":"Oslo"}' },
        },
        { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
      ],
    },
    {
      role: 'assistant',
      parts: [
        { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'tool_call', id: 'call_2', name: 'get_time', arguments: '{}' },
      ],
    },
  ],
  [
    'tool result',
    { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: '{"temp":3}' }] },
  ],
];

describe('openai-neutral', () => {
  it.each(ROUND_TRIPS)('maps %s to the neutral form', (_name, openai, neutral) => {
    expect(openAIToNeutral(openai)).toEqual(neutral);
  });

  it.each(ROUND_TRIPS)('renders %s back to OpenAI', (_name, openai, neutral) => {
    expect(neutralToOpenAI(neutral)).toEqual([openai]);
  });

  it('keeps reasoning (reasoning_content or reasoning) and renders it only when asked', () => {
    const neutral = openAIToNeutral({
      role: 'assistant',
      content: 'Four.',
      reasoning_content: '2+2',
    });
    expect(neutral.parts).toEqual([
      { type: 'reasoning', text: '2+2' },
      { type: 'text', text: 'Four.' },
    ]);
    expect(openAIToNeutral({ role: 'assistant', content: 'x', reasoning: 'r' }).parts[0]).toEqual({
      type: 'reasoning',
      text: 'r',
    });
    expect(neutralToOpenAI(neutral)).toEqual([{ role: 'assistant', content: 'Four.' }]);
    expect(neutralToOpenAI(neutral, { includeReasoning: true })).toEqual([
      { role: 'assistant', content: 'Four.', reasoning_content: '2+2' },
    ]);
  });

  it('maps developer messages and text-part system content to a system message', () => {
    expect(
      openAIToNeutral({
        role: 'developer',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      }),
    ).toEqual({ role: 'system', parts: [{ type: 'text', text: 'ab' }] });
  });

  it('marks a failed tool result in its text only when asked (forwarding)', () => {
    const neutral: NeutralMessage = {
      role: 'tool',
      parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'timeout', isError: true }],
    };
    expect(neutralToOpenAI(neutral)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'timeout' },
    ]);
    expect(neutralListToOpenAI([neutral], { markToolErrors: true })).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: timeout' },
    ]);
  });

  it('splits tool results held in a user message (Anthropic style) into tool messages first', () => {
    const neutral: NeutralMessage = {
      role: 'user',
      parts: [
        { type: 'tool_result', toolCallId: 'toolu_1', content: 'done' },
        { type: 'text', text: 'And now?' },
      ],
    };
    expect(neutralToOpenAI(neutral)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_1', content: 'done' },
      { role: 'user', content: 'And now?' },
    ]);
  });

  it('renders assistant text with tool calls, and a list in order', () => {
    const list: NeutralMessage[] = [
      { role: 'user', parts: [{ type: 'text', text: 'q' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'text', text: 'Let me check.' },
          { type: 'tool_call', id: 'c', name: 'f', arguments: '{}' },
        ],
      },
    ];
    expect(neutralListToOpenAI(list)).toEqual([
      { role: 'user', content: 'q' },
      {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
    ]);
  });

  it('drops unknown parts without text and keeps unknown parts with text', () => {
    expect(
      openAIToNeutral({
        role: 'user',
        content: [{ type: 'mystery' }, { type: 'input_text', text: 'x' }, 'junk', null],
      }),
    ).toEqual({ role: 'user', parts: [{ type: 'text', text: 'x' }] });
  });

  it('parses base64 data URIs only', () => {
    expect(parseDataUri('data:image/PNG;base64,AAAA')).toEqual({
      mediaType: 'image/png',
      data: 'AAAA',
    });
    expect(parseDataUri('data:image/png;charset=x;base64,AA')).toEqual({
      mediaType: 'image/png',
      data: 'AA',
    });
    expect(parseDataUri('data:text/plain,hello')).toBeNull();
    expect(parseDataUri('https://x.test/a.png')).toBeNull();
  });
});
