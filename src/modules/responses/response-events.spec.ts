import {
  ResponseEventBuilder,
  serializeResponseEvent,
  serializeResponseEvents,
} from 'src/modules/responses/response-events';

const chunk = (delta: object, finish: string | null = null) => ({
  choices: [{ index: 0, delta, finish_reason: finish }],
});

describe('ResponseEventBuilder', () => {
  const id = '11111111-1111-4111-8111-111111111111';

  it('turns text chunks into a message item with deltas, closed in order', () => {
    const b = new ResponseEventBuilder(id);
    const events = [
      ...b.start({ status: 'in_progress' }),
      ...b.push(chunk({ role: 'assistant', content: '' })),
      ...b.push(chunk({ content: 'Hel' })),
      ...b.push(chunk({ content: 'lo' })),
      ...b.push(chunk({}, 'stop')),
    ];
    expect(b.reason).toBe('stop');
    expect(b.answer()).toEqual({ role: 'assistant', parts: [{ type: 'text', text: 'Hello' }] });
    events.push(...b.finish({ status: 'completed' }));
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[6]).toMatchObject({ text: 'Hello', item_id: `msg_${id}`, output_index: 0 });
    expect(events[8]).toMatchObject({
      item: { type: 'message', status: 'completed', content: [{ text: 'Hello' }] },
    });
  });

  it('numbers tool calls as items after the text, arguments as deltas', () => {
    const b = new ResponseEventBuilder(id, 10);
    const events = [
      ...b.push(chunk({ content: 'Let me check.' })),
      ...b.push(
        chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '' } }] }),
      ),
      ...b.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] })),
      ...b.push(chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] })),
      ...b.push(
        chunk({
          tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '{}' } }],
        }),
      ),
    ];
    expect(events[0].sequence_number).toBe(10);
    expect(b.answer().parts).toEqual([
      { type: 'text', text: 'Let me check.' },
      { type: 'tool_call', id: 'call_a', name: 'f', arguments: '{"x":1}' },
      { type: 'tool_call', id: 'call_b', name: 'g', arguments: '{}' },
    ]);
    const closing = b.finish({ status: 'incomplete' });
    const done = closing.filter((e) => e.type === 'response.output_item.done');
    expect(done.map((e) => [e.output_index, (e.item as any).id, (e.item as any).status])).toEqual([
      [0, `msg_${id}`, 'incomplete'],
      [1, `fc_${id}_0`, 'incomplete'],
      [2, `fc_${id}_1`, 'incomplete'],
    ]);
    expect(closing[closing.length - 1].type).toBe('response.incomplete');
  });

  it('ignores chunks without choices (usage)', () => {
    const b = new ResponseEventBuilder(id);
    expect(b.push({ choices: [], usage: { prompt_tokens: 1 } })).toEqual([]);
  });

  it('reads a JSON answer into the answer and reason its stream would give', () => {
    const streamed = new ResponseEventBuilder(id);
    streamed.push(chunk({ content: 'Let me check.' }));
    streamed.push(
      chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '{}' } }] }),
    );
    streamed.push(chunk({}, 'tool_calls'));
    const json = new ResponseEventBuilder(id);
    json.pushChoice({
      index: 0,
      message: {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }],
      },
      finish_reason: 'tool_calls',
    });
    expect(json.answer()).toEqual(streamed.answer());
    expect(json.reason).toBe('tool_calls');
  });
});

describe('serializeResponseEvents', () => {
  it('writes the same bytes as one event at a time, a shared response object included', () => {
    const b = new ResponseEventBuilder('11111111-1111-4111-8111-111111111111');
    const started = { id: 'resp_1', status: 'in_progress', output: [], text: { a: '"\\' } };
    const events = [
      ...b.start(started),
      ...b.push(chunk({ content: 'Hi "there"' })),
      ...b.finish({ ...started, status: 'completed' }),
      b.error('upstream_error', 'gone'),
    ];
    expect(serializeResponseEvents(events)).toBe(events.map(serializeResponseEvent).join(''));
  });
});
