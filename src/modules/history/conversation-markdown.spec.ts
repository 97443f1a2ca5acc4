import { conversationToMarkdown } from 'src/modules/history/conversation-markdown';
import { ConversationDetailResponseDto } from 'src/modules/conversations/dto/conversations.dto';

const base = {
  status: 'completed',
  finish_reason: null,
  usage: null,
  model: null,
  error: null,
  created_at: 1_796_000_000,
};

describe(conversationToMarkdown.name, () => {
  const conversation: ConversationDetailResponseDto = {
    id: 'c-1',
    object: 'conversation',
    title: 'Weather',
    metadata: null,
    model: 'llama',
    last_message_id: 'm-4',
    busy: false,
    created_at: 1_796_000_000,
    updated_at: 1_796_000_060,
    messages: [
      { ...base, id: 'm-1', role: 'user', content: 'Weather in Oslo?' },
      {
        ...base,
        id: 'm-2',
        role: 'assistant',
        content: null,
        model: 'llama',
        finish_reason: 'tool_calls',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Oslo ```"}' },
          },
        ],
      },
      { ...base, id: 'm-3', role: 'tool', tool_call_id: 'call_1', content: '-3 °C, snow' },
      {
        ...base,
        id: 'm-4',
        role: 'assistant',
        status: 'failed',
        error: { code: 'upstream_error' },
        content: null,
      },
    ],
  };

  it('renders roles, times, statuses, tool calls and results in order', () => {
    const md = conversationToMarkdown(conversation);
    expect(md).toContain('# Weather');
    expect(md).toContain('### User · 2026-11-30 ');
    expect(md).toContain('### Assistant · 2026-11-30 ');
    expect(md.indexOf('Weather in Oslo?')).toBeLessThan(
      md.indexOf('**Tool call** `get_weather` (`call_1`)'),
    );
    // A fence longer than any backtick run inside keeps the arguments inside the block.
    expect(md).toContain('````json\n{"city":"Oslo ```"}\n````');
    expect(md).toContain('*Result of tool call `call_1`*\n\n-3 °C, snow');
    expect(md).toMatch(
      /### Assistant · [^\n]* · failed · error: upstream_error\n\n\*No answer: the turn failed\.\*/,
    );
    expect(md).toContain('finish: tool_calls');
  });
});
