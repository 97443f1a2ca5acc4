import { NeutralMessage } from 'src/kernel/neutral-history';
import {
  AnthropicConversation,
  anthropicResponseToNeutral,
  anthropicToNeutral,
  neutralToAnthropic,
} from 'src/modules/proxy/wire/anthropic/neutral-anthropic';

const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
const jpeg = '/9j/4AAQSkZJRgABAQAAAQABAAD';

describe(neutralToAnthropic.name, () => {
  const table: Array<[string, NeutralMessage[], AnthropicConversation]> = [
    [
      'a conversation an openai upstream served, with tool calls, results and reasoning',
      [
        { role: 'system', parts: [{ type: 'text', text: 'Be brief.' }] },
        {
          role: 'user',
          parts: [
            { type: 'text', text: 'Weather here?' },
            { type: 'image', mediaType: 'image/png', data: png },
          ],
        },
        {
          role: 'assistant',
          parts: [
            { type: 'reasoning', text: 'vLLM reasoning, unsigned' },
            { type: 'text', text: 'Checking.' },
            { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
            { type: 'tool_call', id: 'call_2', name: 'clock', arguments: '' },
          ],
        },
        { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: '15C' }] },
        {
          role: 'tool',
          parts: [{ type: 'tool_result', toolCallId: 'call_2', content: 'down', isError: true }],
        },
        { role: 'user', parts: [{ type: 'text', text: 'So?' }] },
        { role: 'assistant', parts: [{ type: 'text', text: 'Mild, 15C.' }] },
      ],
      {
        system: 'Be brief.',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather here?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'call_2', name: 'clock', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'call_1', content: '15C' },
              { type: 'tool_result', tool_use_id: 'call_2', content: 'down', is_error: true },
              { type: 'text', text: 'So?' },
            ],
          },
          { role: 'assistant', content: 'Mild, 15C.' },
        ],
      },
    ],
    [
      'signed reasoning first, several system prompts, media Anthropic cannot read, empty turns',
      [
        { role: 'system', parts: [{ type: 'text', text: 'One.' }] },
        { role: 'system', parts: [{ type: 'text', text: 'Two.' }] },
        {
          role: 'user',
          parts: [
            { type: 'media', kind: 'audio', mediaType: 'audio/wav', data: 'UklGRg==' },
            {
              type: 'media',
              kind: 'file',
              mediaType: 'application/pdf',
              data: 'JVBERi0=',
              name: 'a.pdf',
            },
            { type: 'image', mediaType: null, data: jpeg },
            { type: 'image', mediaType: null, url: 'https://example.com/x.png' },
            { type: 'text', text: '' },
          ],
        },
        {
          role: 'assistant',
          parts: [
            { type: 'text', text: 'Heard it.' },
            { type: 'reasoning', text: 'Claude reasoning', signature: 'sig-abc' },
          ],
        },
        { role: 'assistant', parts: [{ type: 'text', text: '' }] },
        { role: 'user', parts: [{ type: 'text', text: 'Next' }] },
        { role: 'user', parts: [{ type: 'text', text: 'and more' }] },
      ],
      {
        system: [
          { type: 'text', text: 'One.' },
          { type: 'text', text: 'Two.' },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: '[audio attached; this model cannot read it]' },
              {
                type: 'document',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
                title: 'a.pdf',
              },
              { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: jpeg } },
              { type: 'image', source: { type: 'url', url: 'https://example.com/x.png' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Claude reasoning', signature: 'sig-abc' },
              { type: 'text', text: 'Heard it.' },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Next' },
              { type: 'text', text: 'and more' },
            ],
          },
        ],
      },
    ],
    [
      'a stored tool call whose arguments are not JSON still renders',
      [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        {
          role: 'assistant',
          parts: [{ type: 'tool_call', id: 't', name: 'f', arguments: '{"a":' }],
        },
      ],
      {
        messages: [
          { role: 'user', content: 'go' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        ],
      },
    ],
  ];

  it.each(table)('renders %s', (_name, history, expected) => {
    expect(neutralToAnthropic(history)).toEqual(expected);
  });
});

describe(anthropicToNeutral.name, () => {
  it('splits tool results into tool messages and keeps signatures, images and documents', () => {
    expect(
      anthropicToNeutral({
        system: [
          { type: 'text', text: 'Sys A' },
          { type: 'text', text: 'Sys B', cache_control: { type: 'ephemeral' } },
        ],
        messages: [
          { role: 'user', content: 'Hi' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 'sig' },
              { type: 'redacted_thinking', data: 'opaque' },
              { type: 'text', text: 'Calling.' },
              { type: 'tool_use', id: 'toolu_1', name: 'shot', input: { full: true } },
            ],
          },
          {
            role: 'user',
            content: [
              {
                type: 'tool_result',
                tool_use_id: 'toolu_1',
                is_error: true,
                content: [
                  { type: 'text', text: 'partial' },
                  { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
                ],
              },
              { type: 'image', source: { type: 'url', url: 'https://example.com/y.png' } },
              {
                type: 'document',
                title: 'r.pdf',
                source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' },
              },
              { type: 'text', text: 'Look' },
            ],
          },
        ],
      }),
    ).toEqual([
      { role: 'system', parts: [{ type: 'text', text: 'Sys A\n\nSys B' }] },
      { role: 'user', parts: [{ type: 'text', text: 'Hi' }] },
      {
        role: 'assistant',
        parts: [
          { type: 'reasoning', text: 'hmm', signature: 'sig' },
          { type: 'text', text: 'Calling.' },
          { type: 'tool_call', id: 'toolu_1', name: 'shot', arguments: '{"full":true}' },
        ],
      },
      {
        role: 'tool',
        parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'partial', isError: true }],
      },
      {
        role: 'user',
        parts: [
          { type: 'image', mediaType: 'image/png', data: png },
          { type: 'image', mediaType: null, url: 'https://example.com/y.png' },
          {
            type: 'media',
            kind: 'file',
            mediaType: 'application/pdf',
            data: 'JVBERi0=',
            name: 'r.pdf',
          },
          { type: 'text', text: 'Look' },
        ],
      },
    ]);
  });

  it('round-trips an Anthropic conversation through the neutral form unchanged', () => {
    const conversation: AnthropicConversation = {
      system: 'Be kind.',
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'use the tool', signature: 'sig-1' },
            { type: 'tool_use', id: 'toolu_9', name: 'weather', input: { city: 'Oslo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_9', content: '3C' },
            { type: 'text', text: 'Thanks' },
          ],
        },
        { role: 'assistant', content: 'Cold: 3C.' },
      ],
    };
    expect(neutralToAnthropic(anthropicToNeutral(conversation))).toEqual(conversation);
  });
});

describe(anthropicResponseToNeutral.name, () => {
  it('stores the answer as one assistant message', () => {
    expect(
      anthropicResponseToNeutral({
        content: [
          { type: 'text', text: 'Sure.' },
          { type: 'tool_use', id: 'toolu_2', name: 'f', input: {} },
        ],
      }),
    ).toEqual({
      role: 'assistant',
      parts: [
        { type: 'text', text: 'Sure.' },
        { type: 'tool_call', id: 'toolu_2', name: 'f', arguments: '{}' },
      ],
    });
  });
});
