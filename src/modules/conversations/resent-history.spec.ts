import {
  isSameMessage,
  reconcileResentHistory,
  SeenHistory,
} from 'src/modules/conversations/resent-history';
import { NeutralMessage } from 'src/kernel/neutral-history';

const text = (role: NeutralMessage['role'], t: string): NeutralMessage => ({
  role,
  parts: [{ type: 'text', text: t }],
});
const system = text('system', 'Be brief.');
const stored: SeenHistory = {
  system,
  messages: [
    text('user', 'Hi'),
    text('assistant', 'Hello!'),
    text('user', 'Weather in Paris?'),
    {
      role: 'assistant',
      parts: [
        { type: 'reasoning', text: 'call the tool' },
        { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city": "Paris"}' },
      ],
    },
    { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }] },
    text('assistant', 'It is 18C.'),
  ],
};
const next = text('user', 'And tomorrow?');

describe(reconcileResentHistory.name, () => {
  it('reads one new message as the new turn, as /c1 always did', () => {
    expect(reconcileResentHistory(stored, { system: null, messages: [next] })).toEqual({
      kind: 'new_turn',
    });
  });

  it('reads tool results alone as the new turn', () => {
    const results = [
      {
        role: 'tool' as const,
        parts: [{ type: 'tool_result' as const, toolCallId: 'c', content: 'a' }],
      },
      {
        role: 'tool' as const,
        parts: [{ type: 'tool_result' as const, toolCallId: 'd', content: 'b' }],
      },
    ];
    expect(reconcileResentHistory(stored, { system: null, messages: results })).toEqual({
      kind: 'new_turn',
    });
  });

  it('drops the resent history, system prompt included, and keeps the suffix as the turn', () => {
    const sent = { system, messages: [...stored.messages, next] };
    expect(reconcileResentHistory(stored, sent)).toEqual({ kind: 'resent', resent: 6 });
    const withoutSystem = { system: null, messages: [...stored.messages, next, next] };
    expect(reconcileResentHistory(stored, withoutSystem)).toEqual({ kind: 'resent', resent: 6 });
  });

  it('accepts a resend whose representation differs: parts split, whitespace, argument spacing, no reasoning', () => {
    const resent: NeutralMessage[] = [
      {
        role: 'user',
        parts: [
          { type: 'text', text: 'H' },
          { type: 'text', text: 'i' },
        ],
      },
      text('assistant', '  Hello!\n'),
      text('user', 'Weather in Paris?'),
      {
        role: 'assistant',
        parts: [
          { type: 'text', text: '' },
          { type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' },
        ],
      },
      { role: 'tool', parts: [{ type: 'tool_result', toolCallId: 'call_1', content: '18C' }] },
      text('assistant', 'It is 18C.'),
      next,
    ];
    expect(reconcileResentHistory(stored, { system, messages: resent })).toEqual({
      kind: 'resent',
      resent: 6,
    });
  });

  it('names the first message that contradicts the stored history', () => {
    const edited = [...stored.messages];
    edited[2] = text('user', 'Weather in Rome?');
    expect(reconcileResentHistory(stored, { system, messages: [...edited, next] })).toMatchObject({
      kind: 'conflict',
      at: 'message',
      index: 2,
    });
    const otherCall = [...stored.messages];
    otherCall[3] = {
      role: 'assistant',
      parts: [{ type: 'tool_call', id: 'call_1', name: 'weather', arguments: '{"city":"Rome"}' }],
    };
    expect(
      reconcileResentHistory(stored, { system: null, messages: [...otherCall, next] }),
    ).toMatchObject({
      kind: 'conflict',
      index: 3,
    });
  });

  it('refuses a different or unexpected system prompt', () => {
    const sent = { system: text('system', 'Be verbose.'), messages: [...stored.messages, next] };
    expect(reconcileResentHistory(stored, sent)).toEqual({ kind: 'conflict', at: 'system' });
    const noSystem = { system: null, messages: stored.messages };
    expect(
      reconcileResentHistory(noSystem, { system, messages: [...stored.messages, next] }),
    ).toEqual({ kind: 'conflict', at: 'system' });
  });

  it('refuses a resend that holds no new turn (a regenerate, or a shorter history)', () => {
    expect(reconcileResentHistory(stored, { system, messages: stored.messages })).toMatchObject({
      kind: 'conflict',
      index: 6,
    });
    expect(
      reconcileResentHistory(stored, { system, messages: stored.messages.slice(0, 3) }),
    ).toMatchObject({ kind: 'conflict', index: 3 });
  });

  it('reads a history resent after a failed turn: the failed message is sent again as new', () => {
    const seen = { system: null, messages: stored.messages.slice(0, 2) };
    const sent = {
      system: null,
      messages: [...stored.messages.slice(0, 2), text('user', 'retry')],
    };
    expect(reconcileResentHistory(seen, sent)).toEqual({ kind: 'resent', resent: 2 });
  });

  it('reads a first message that merely equals the first stored one as a new turn', () => {
    expect(
      reconcileResentHistory(stored, { system: null, messages: [text('user', 'Hi')] }),
    ).toEqual({ kind: 'new_turn' });
  });
});

describe(isSameMessage.name, () => {
  it('tells roles, tool ids and media apart', () => {
    expect(isSameMessage(text('user', 'a'), text('assistant', 'a'))).toBe(false);
    const call = (id: string): NeutralMessage => ({
      role: 'assistant',
      parts: [{ type: 'tool_call', id, name: 'f', arguments: '{}' }],
    });
    expect(isSameMessage(call('a'), call('b'))).toBe(false);
    const image = (data: string): NeutralMessage => ({
      role: 'user',
      parts: [{ type: 'image', mediaType: 'image/png', data }],
    });
    expect(isSameMessage(image('AAAA'), image('AAAA'))).toBe(true);
    expect(isSameMessage(image('AAAA'), image('BBBB'))).toBe(false);
  });
});
