import { SseDecoder } from 'src/modules/proxy/sse/sse-decoder';
import { openAIWire } from 'src/modules/proxy/wire/openai/openai.wire';
import { ResponseEvent, ResponseEventBuilder } from 'src/modules/responses/response-events';
import { ResponsesStreamAdapter } from 'src/modules/responses/responses-stream-adapter';

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;

/** An OpenAI upstream's stream, event by event, through the adapter. */
function run(isRead: boolean) {
  const logged: ResponseEvent[] = [];
  const adapter = new ResponsesStreamAdapter(
    (observe) =>
      openAIWire.chatStream({ alias: 'm', clientWantsUsage: true, collect: false, observe }),
    new ResponseEventBuilder('msg-1'),
    { id: 'resp_1', status: 'in_progress' },
    (events) => logged.push(...events),
    isRead,
  );
  const upstream =
    chunk({ role: 'assistant', content: '' }) +
    chunk({ content: 'Hel' }) +
    chunk({ content: 'lo' }) +
    chunk({}, 'stop') +
    'data: [DONE]\n\n';
  const written: (string | null)[] = [];
  for (const event of new SseDecoder().push(Buffer.from(upstream))) {
    written.push(adapter.push(event));
    if (adapter.isTerminal(event)) {
      break;
    }
  }
  const last = adapter.finalText({ id: 'resp_1', status: 'completed' });
  return { logged, written, last };
}

describe(ResponsesStreamAdapter.name, () => {
  it('numbers every event from 0 and holds the final ones until the turn is stored', () => {
    const { logged, written, last } = run(true);

    expect(logged.map((e) => e.sequence_number)).toEqual(logged.map((_, i) => i));
    expect(logged.slice(0, 2).map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
    ]);
    expect(logged.at(-1)).toMatchObject({
      type: 'response.completed',
      response: { status: 'completed' },
    });
    // The terminal upstream event writes nothing; the stored response's events come last.
    expect(written.at(-1)).toBeNull();
    const sent = [...written.filter((t) => t !== null), last].join('');
    const data = sent
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as ResponseEvent);
    expect(data).toEqual(logged);
    expect(
      logged.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta),
    ).toEqual(['Hel', 'lo']);
  });

  it('builds the same events without writing any when no client reads the stream', () => {
    const read = run(true);
    const unread = run(false);

    expect(unread.written.every((t) => t === null)).toBe(true);
    expect(unread.last).toBe('');
    expect(unread.logged.map((e) => e.type)).toEqual(read.logged.map((e) => e.type));
  });
});
