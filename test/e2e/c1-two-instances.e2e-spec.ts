import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * Two gateways on one database: a conversation continued alternately on each forwards the
 * full history every time (each instance's history cache must never hide the other's turns),
 * and the database decides which of two concurrent turns runs.
 */
describe('/c1 across two gateway instances', () => {
  let up: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream({ firstByteDelayMs: 200 });
    const models = {
      models: [
        {
          alias: 'fake',
          upstreams: [{ url: up.url, format: 'openai', model: 'fake-model' }],
          constraints: { max_output_tokens: 1000, context_window: 100_000 },
        },
      ],
    };
    a = await startGateway({ models });
    // Started second, before any turn: its boot-time recovery finds nothing in flight.
    b = await startGateway({ models, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await up?.close();
  });

  const turn = (gw: TestGateway, text: string, id?: string) =>
    gw.post(
      '/c1/chat/completions',
      id
        ? { messages: [{ role: 'user', content: text }] }
        : { model: 'fake', messages: [{ role: 'user', content: text }] },
      { headers: id ? { 'x-conversation-id': id } : {} },
    );
  const forwarded = () =>
    up.received[up.received.length - 1].body.messages.map((m: any) => m.content as string);

  it('forwards the turns stored by the other instance', async () => {
    const first = await turn(a, 'one');
    const id = first.body.conversation_id as string;
    expect((await turn(b, 'two', id)).status).toBe(200);
    expect((await turn(a, 'three', id)).status).toBe(200);
    expect(forwarded()).toEqual(['one', 'You said: one', 'two', 'You said: two', 'three']);
    expect((await turn(b, 'four', id)).status).toBe(200);
    expect(forwarded()).toEqual([
      'one',
      'You said: one',
      'two',
      'You said: two',
      'three',
      'You said: three',
      'four',
    ]);
  });

  it('runs exactly one of two concurrent turns sent to different instances', async () => {
    const id = (await turn(a, 'race')).body.conversation_id as string;
    const results = await Promise.all([turn(a, 'via a', id), turn(b, 'via b', id)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = results.find((r) => r.status === 409);
    expect(loser?.body.error.code).toBe('conversation_busy');
  });
});
