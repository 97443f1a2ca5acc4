import { ApiError } from 'src/common/errors/api-error';
import {
  canonicalJson,
  firstUserText,
  readIdempotencyKey,
  requestFingerprint,
  splitAnthropicTurn,
  splitTurn,
  takeTurnFields,
} from 'src/modules/conversations/turn-request';

const ID = '11111111-1111-4111-8111-111111111111';
const OTHER = '22222222-2222-4222-8222-222222222222';

function errorOf(fn: () => unknown): { code: string; param: string | null } | null {
  try {
    fn();
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return { code: (error as ApiError).code, param: (error as ApiError).param };
  }
}

describe('turn-request', () => {
  it.each([
    [{}, undefined, { conversationId: null, expectedLastMessageId: null }],
    [{ conversation_id: ID }, undefined, { conversationId: ID, expectedLastMessageId: null }],
    [{}, ID, { conversationId: ID, expectedLastMessageId: null }],
    [{ conversation_id: ID }, ID, { conversationId: ID, expectedLastMessageId: null }],
    [{ expected_last_message_id: OTHER }, ID, { conversationId: ID, expectedLastMessageId: OTHER }],
    [{}, `conv_${ID}`, { conversationId: ID, expectedLastMessageId: null }],
    [{ conversation_id: `conv_${ID}` }, ID, { conversationId: ID, expectedLastMessageId: null }],
    [{}, 'conv_nope', { conversationId: 'conv_nope', expectedLastMessageId: null }],
  ])(
    'reads the conversation fields of %j with header %s and removes them',
    (body, header, fields) => {
      const copy: Record<string, unknown> = { ...body, model: 'm' };
      expect(takeTurnFields(copy, header)).toEqual(fields);
      expect(copy).toEqual({ model: 'm' });
    },
  );

  it.each([
    [{ conversation_id: ID }, OTHER, 'conversation_id'],
    [{ conversation_id: 5 }, undefined, 'conversation_id'],
    [{}, [ID, ID], 'x-conversation-id'],
    [{ expected_last_message_id: 5 }, undefined, 'expected_last_message_id'],
  ])('refuses %j with header %j (param %s)', (body, header, param) => {
    expect(errorOf(() => takeTurnFields({ ...body }, header))).toEqual({
      code: 'invalid_field',
      param,
    });
  });

  it('checks the Idempotency-Key header', () => {
    expect(readIdempotencyKey(undefined)).toBeNull();
    expect(readIdempotencyKey('retry-1')).toBe('retry-1');
    for (const bad of ['', 'with space', 'x'.repeat(256), ['a', 'b'], 'é']) {
      expect(errorOf(() => readIdempotencyKey(bad))).toEqual({
        code: 'invalid_field',
        param: 'idempotency-key',
      });
    }
  });

  it('fingerprints requests independently of key order, and apart by content and conversation', () => {
    expect(canonicalJson({ b: 1, a: [{ y: 2, x: 1 }] })).toBe('{"a":[{"x":1,"y":2}],"b":1}');
    const fields = { conversationId: ID, expectedLastMessageId: null };
    const a = requestFingerprint(fields, {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    const b = requestFingerprint(fields, {
      messages: [{ content: 'x', role: 'user' }],
      model: 'm',
    });
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(requestFingerprint(fields, { model: 'm', messages: [] })).not.toBe(a);
    expect(
      requestFingerprint(
        { ...fields, conversationId: OTHER },
        { model: 'm', messages: [{ role: 'user', content: 'x' }] },
      ),
    ).not.toBe(a);
  });

  it('takes leading system messages of a new conversation as its system prompt', () => {
    const split = splitTurn(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use French.' }] },
        { role: 'user', content: 'Bonjour' },
      ],
      true,
    );
    expect(split.system).toEqual({
      role: 'system',
      parts: [{ type: 'text', text: 'Be brief.\n\nUse French.' }],
    });
    expect(split.messages).toEqual([{ role: 'user', parts: [{ type: 'text', text: 'Bonjour' }] }]);
    expect(firstUserText(split.messages)).toBe('Bonjour');
  });

  it.each([
    [
      true,
      [
        { role: 'user', content: 'x' },
        { role: 'system', content: 's' },
      ],
      'messages[1].role',
    ],
    [
      false,
      [
        { role: 'system', content: 's' },
        { role: 'user', content: 'x' },
      ],
      'messages[0].role',
    ],
    [true, [{ role: 'system', content: 's' }], 'messages'],
  ])('refuses misplaced system messages (new: %s) at %s', (isNew, messages, param) => {
    expect(errorOf(() => splitTurn(messages, isNew))).toEqual({ code: 'invalid_field', param });
  });

  it('splits an Anthropic turn: system prompt of a new conversation, tool results first', () => {
    const split = splitAnthropicTurn(
      {
        system: [
          { type: 'text', text: 'Be brief.' },
          { type: 'text', text: 'Use French.' },
        ],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Voici' },
              { type: 'tool_result', tool_use_id: 'toolu_1', content: 'ok', is_error: true },
            ],
          },
        ],
      },
      true,
    );
    expect(split).toEqual({
      system: { role: 'system', parts: [{ type: 'text', text: 'Be brief.\n\nUse French.' }] },
      messages: [
        {
          role: 'tool',
          parts: [{ type: 'tool_result', toolCallId: 'toolu_1', content: 'ok', isError: true }],
        },
        { role: 'user', parts: [{ type: 'text', text: 'Voici' }] },
      ],
    });
    expect(splitAnthropicTurn({ messages: [{ role: 'user', content: 'x' }] }, false)).toEqual({
      system: null,
      messages: [{ role: 'user', parts: [{ type: 'text', text: 'x' }] }],
    });
  });

  it.each([
    [false, { system: 'again', messages: [{ role: 'user', content: 'x' }] }, 'system'],
    [true, { system: 'only a prompt', messages: [] }, 'messages'],
  ])('refuses an Anthropic turn (new: %s) at %s', (isNew, body, param) => {
    expect(errorOf(() => splitAnthropicTurn(body, isNew))).toEqual({
      code: 'invalid_field',
      param,
    });
  });
});
