import { StoredMessage } from 'src/modules/conversations/conversation.types';
import {
  inputToChatMessages,
  parseItemId,
  pickItem,
  storedToItems,
} from 'src/modules/responses/response-items';
import { storedMessage } from 'test/support/stored-message';

const id = '22222222-2222-4222-8222-222222222222';

const stored = (over: Partial<StoredMessage>): StoredMessage =>
  storedMessage({ id, treeId: id, turnId: id, ...over });

describe('response items', () => {
  it('reads input items as chat messages, merging function calls into the assistant turn', () => {
    expect(
      inputToChatMessages([
        { role: 'developer', content: 'rules' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'calling' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'reasoning', summary: [] },
      ]),
    ).toEqual([
      { role: 'system', content: 'rules' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      {
        role: 'assistant',
        content: 'calling',
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'g', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'one' },
    ]);
  });

  it('names the offending item in its errors', () => {
    expect(() => inputToChatMessages([{ type: 'function_call', name: 'f' }])).toThrow(
      expect.objectContaining({ code: 'missing_field', param: 'input[0].call_id' }),
    );
    expect(() =>
      inputToChatMessages([{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }]),
    ).toThrow(expect.objectContaining({ param: 'input[0].content[0].image_url' }));
  });

  it('gives an assistant message one item for its text and one per tool call', () => {
    const m = stored({
      role: 'assistant',
      model: 'm',
      parts: [
        { type: 'text', text: 'ok' },
        { type: 'tool_call', id: 'c', name: 'f', arguments: '{}' },
      ],
    });
    const items = storedToItems(m);
    expect(items.map((i) => [i.type, i.id])).toEqual([
      ['message', `msg_${id}`],
      ['function_call', `fc_${id}_0`],
    ]);
    expect(pickItem(m, parseItemId(`fc_${id}_0`)!)).toEqual(items[1]);
    expect(parseItemId(`fc_${id}`)).toBeNull();
    expect(parseItemId('msg_../../etc')).toBeNull();
  });
});
