import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import createClient from 'openapi-fetch';
import type { paths } from 'test/generated/openapi';
import {
  startGateway,
  TEST_ADMIN_TOKEN,
  TEST_API_KEY,
  TestGateway,
} from 'test/support/start-gateway';

/**
 * Clients generated from openapi/openapi.json are a real use (issue #2): this suite calls the
 * gateway through openapi-fetch with the types openapi-typescript generates. `npm run
 * typecheck` checks the calls below against those types; later routes add their calls here.
 */
describe('a typed client generated from openapi/openapi.json', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it('has committed types that openapi-typescript generates from the committed document', () => {
    const root = join(__dirname, '..', '..');
    const generated = execFileSync(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        '-e',
        "require('test/support/openapi-client').printClientTypes()",
      ],
      { cwd: root, encoding: 'utf8', timeout: 60_000 },
    );
    expect(generated).toContain("'/api/keys/{id}'");
    // Stale types: run `npm run openapi:export` and commit both files.
    expect(readFileSync(join(root, 'test', 'generated', 'openapi.d.ts'), 'utf8')).toBe(generated);
  });

  it('reads the error catalog', async () => {
    const client = createClient<paths>({ baseUrl: gw.url });
    const { data, error, response } = await client.GET('/errors');
    expect(response.status).toBe(200);
    expect(error).toBeUndefined();
    expect(data?.count).toBe(data?.entries.length);
    expect(data?.entries.map((e) => e.code)).toContain('key_not_found');
  });

  it('manages keys with the admin token and uses the new key', async () => {
    const admin = createClient<paths>({
      baseUrl: gw.url,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    const created = await admin.POST('/api/keys', {
      body: { name: 'typed', user_id: 'typed-user', rate_limit: { per_second: 2, burst: 4 } },
    });
    expect(created.response.status).toBe(201);
    const key = created.data!;
    expect(key.rate_limit).toEqual({ per_second: 2, burst: 4 });

    const fetched = await admin.GET('/api/keys/{id}', { params: { path: { id: key.id } } });
    expect(fetched.data?.name).toBe('typed');

    const patched = await admin.PATCH('/api/keys/{id}', {
      params: { path: { id: key.id } },
      body: { name: 'typed-2', allowed_models: ['echo'] },
    });
    expect(patched.data?.allowed_models).toEqual(['echo']);

    const page = await admin.GET('/api/keys', { params: { query: { limit: 1 } } });
    expect(page.data?.data).toHaveLength(1);
    expect(page.data?.has_more).toBe(true);

    const user = createClient<paths>({ baseUrl: gw.url, headers: { 'x-api-key': key.key } });
    const me = await user.GET('/v1/me');
    expect(me.data).toMatchObject({ key_id: key.id, user_id: 'typed-user' });

    const removed = await admin.DELETE('/api/keys/{id}', { params: { path: { id: key.id } } });
    expect(removed.data).toEqual({ id: key.id, deleted: true });
  });

  it('receives catalog errors in the documented envelope', async () => {
    const admin = createClient<paths>({
      baseUrl: gw.url,
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    const missing = await admin.GET('/api/keys/{id}', { params: { path: { id: 'nope' } } });
    expect(missing.response.status).toBe(404);
    expect(missing.error?.error.code).toBe('key_not_found');

    const anonymous = createClient<paths>({ baseUrl: gw.url });
    const refused = await anonymous.GET('/v1/me');
    expect(refused.response.status).toBe(401);
    expect(refused.error?.error).toMatchObject({ code: 'missing_authorization', param: null });

    const user = createClient<paths>({
      baseUrl: gw.url,
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const bad = await admin.POST('/api/keys', { body: { name: '', user_id: 'x' } });
    expect(bad.error?.error).toMatchObject({ code: 'invalid_field', param: 'name' });
    expect((await user.GET('/v1/me')).data?.user_id).toBe('default');
  });

  // No cast below: these calls compile only because the document types tools, content parts,
  // tool calls, Anthropic blocks and the /c1 fields (npm run typecheck checks them).
  const PNG =
    'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

  it('sends chat requests with content parts, tools, tool choice and a response format', async () => {
    const user = createClient<paths>({
      baseUrl: gw.url,
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const { data, response } = await user.POST('/v1/chat/completions', {
      body: {
        model: 'echo',
        messages: [
          { role: 'system', content: 'Be brief.' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'look', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'a red pixel' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this image?' },
              { type: 'image_url', image_url: { url: PNG, detail: 'low' } },
            ],
          },
        ],
        tools: [
          {
            type: 'function',
            function: {
              name: 'look',
              description: 'Looks at the image',
              parameters: { type: 'object', properties: {} },
            },
          },
        ],
        tool_choice: 'auto',
        response_format: { type: 'text' },
        stop: ['\n\n'],
        top_p: 1,
        seed: 7,
        user: 'typed-user',
        stream_options: { include_usage: true },
      },
    });
    expect(response.status).toBe(200);
    const choice = data?.choices[0];
    expect(choice?.message.content).toBe('What is in this image?');
    expect(choice?.message.tool_calls?.map((c) => c.function.name) ?? []).toEqual([]);
    expect(response.headers.get('x-request-id')).toEqual(expect.any(String));
  });

  it('continues a /c1 conversation without naming the model, and counts Anthropic tokens', async () => {
    const user = createClient<paths>({
      baseUrl: gw.url,
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    const first = await user.POST('/c1/chat/completions', {
      body: { model: 'echo', messages: [{ role: 'user', content: 'typed hello' }] },
    });
    const id = first.data?.conversation_id;
    expect(first.response.headers.get('x-conversation-id')).toBe(id);
    const second = await user.POST('/c1/chat/completions', {
      body: { conversation_id: id, messages: [{ role: 'user', content: 'typed again' }] },
    });
    expect(second.data?.choices[0].message.content).toBe('typed again');
    const conversation = await user.GET('/c1/conversations/{id}', {
      params: { path: { id: id ?? '' } },
    });
    expect(conversation.data?.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);

    const anthropic = await user.POST('/v1/messages', {
      body: {
        model: 'echo',
        max_tokens: 64,
        system: [{ type: 'text', text: 'Be brief.' }],
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe' },
              {
                type: 'image',
                source: { type: 'base64', media_type: 'image/png', data: PNG.split(',')[1] },
              },
            ],
          },
        ],
        tool_choice: { type: 'auto' },
      },
    });
    const block = anthropic.data?.content[0];
    expect(block?.type === 'text' ? block.text : null).toBe('Describe');
    const counted = await user.POST('/v1/messages/count_tokens', {
      body: { model: 'echo', messages: [{ role: 'user', content: 'Hello there' }] },
    });
    expect(counted.data?.input_tokens).toBe(8);
    const model = await user.GET('/v1/models/{id}', { params: { path: { id: 'echo' } } });
    expect(model.data?.id).toBe('echo');
  });
});
