import { ApiError } from 'src/common/errors/api-error';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { CatalogModel, ModelConstraints } from 'src/kernel/catalog-model';
import {
  applyTokenBounds,
  checkEmbeddingsInput,
  checkMessages,
  MAX_LIST_ITEMS,
  readStreamFlags,
  requireJsonObject,
  resolveModel,
} from 'src/modules/models/constraints/chat-request';

const PNG_B64 = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d,
]).toString('base64');
const PNG_URI = `data:image/png;base64,${PNG_B64}`;

const constraints = (over: Partial<ModelConstraints> = {}): ModelConstraints => ({
  minMaxTokens: 16,
  maxOutputTokens: 8192,
  contextWindow: 131072,
  acceptsImageUrl: false,
  acceptsImages: true,
  typicalResponseSeconds: 5,
  ...over,
});

const model = (alias: string): CatalogModel => ({
  alias,
  upstreams: [],
  constraints: constraints(),
});
const catalog = {
  get: (alias: string) => (['llama', 'qwen'].includes(alias) ? model(alias) : undefined),
};

function errorOf(fn: () => unknown): { code: ErrorCode; param: string | null; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) {
      return { code: error.code, param: error.param, message: error.message };
    }
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe(resolveModel.name, () => {
  it.each([
    [undefined, null, 'missing_field'],
    ['', null, 'missing_field'],
    [42, null, 'invalid_field'],
    ['nope', null, 'model_not_in_allowlist'],
    ['nope', ['llama'], 'model_not_in_allowlist'],
    ['qwen', ['llama'], 'model_access_denied'],
    ['qwen', [], 'model_access_denied'],
  ])('model %j with allowed %j → %s at param model', (value, allowed, code) => {
    expect(errorOf(() => resolveModel(catalog, value, allowed))).toMatchObject({
      code,
      param: 'model',
    });
  });

  it('returns the catalog entry when served and allowed', () => {
    expect(resolveModel(catalog, 'llama', null).alias).toBe('llama');
    expect(resolveModel(catalog, 'llama', ['llama']).alias).toBe('llama');
  });
});

describe(applyTokenBounds.name, () => {
  it.each([
    [{}, {}, []],
    [{ max_tokens: null }, { max_tokens: null }, []],
    [{ max_tokens: 100 }, { max_tokens: 100 }, []],
    [{ max_tokens: 16 }, { max_tokens: 16 }, []],
    [{ max_tokens: 1 }, { max_tokens: 16 }, ['max_tokens_floored=16']],
    [{ max_completion_tokens: 5 }, { max_completion_tokens: 16 }, ['max_tokens_floored=16']],
    [
      { max_tokens: 2, max_completion_tokens: 3 },
      { max_tokens: 16, max_completion_tokens: 16 },
      ['max_tokens_floored=16'],
    ],
    [{ max_tokens: 100_000 }, { max_tokens: 8192 }, ['max_tokens_capped=8192']],
  ])('%j → %j with notes %j', (body, expected, notes) => {
    const copy = { ...body } as Record<string, unknown>;
    expect(applyTokenBounds(copy, constraints())).toEqual(notes);
    expect(copy).toEqual(expected);
  });

  it.each([[0], [-1], [1.5], ['16'], [true]])(
    'refuses max_tokens %j with invalid_field',
    (value) => {
      expect(errorOf(() => applyTokenBounds({ max_tokens: value }, constraints()))).toEqual({
        code: 'invalid_field',
        param: 'max_tokens',
        message: 'max_tokens must be a positive integer',
      });
    },
  );

  it('refuses with max_tokens_below_minimum only when the floor exceeds max_output_tokens', () => {
    const impossible = constraints({ minMaxTokens: 512, maxOutputTokens: 256 });
    expect(errorOf(() => applyTokenBounds({ max_tokens: 10 }, impossible))).toMatchObject({
      code: 'max_tokens_below_minimum',
      param: 'max_tokens',
    });
    expect(
      errorOf(() => applyTokenBounds({ max_completion_tokens: 10 }, impossible)),
    ).toMatchObject({
      code: 'max_tokens_below_minimum',
      param: 'max_completion_tokens',
    });
    expect(applyTokenBounds({}, impossible)).toEqual([]);
  });
});

describe(readStreamFlags.name, () => {
  it.each([
    [{}, { stream: false, clientWantsUsage: false }],
    [{ stream: true }, { stream: true, clientWantsUsage: false }],
    [
      { stream: true, stream_options: { include_usage: true } },
      { stream: true, clientWantsUsage: true },
    ],
    [
      { stream: false, stream_options: null },
      { stream: false, clientWantsUsage: false },
    ],
  ])('%j → %j', (body, expected) => {
    expect(readStreamFlags(body)).toEqual(expected);
  });

  it.each([
    [{ stream: 'yes' }, 'stream'],
    [{ stream_options: 'x' }, 'stream_options'],
  ])('refuses %j', (body, param) => {
    expect(errorOf(() => readStreamFlags(body))).toMatchObject({ code: 'invalid_field', param });
  });
});

describe(checkMessages.name, () => {
  const user = (content: unknown) => ({ role: 'user', content });
  const image = (url: unknown) => ({ type: 'image_url', image_url: { url } });

  it.each([
    ['a string', [user('hi')]],
    ['text parts', [user([{ type: 'text', text: 'hi' }])]],
    ['an inline PNG', [user([{ type: 'text', text: 'look' }, image(PNG_URI)])]],
    [
      'an assistant tool call without content',
      [{ role: 'assistant', content: null, tool_calls: [] }],
    ],
    ['a tool answer', [{ role: 'tool', content: 'ok', tool_call_id: 'c1' }]],
    [
      'input_audio',
      [user([{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }])],
    ],
    [
      'inline audio_url',
      [user([{ type: 'audio_url', audio_url: { url: 'data:audio/wav;base64,AAAA' } }])],
    ],
    [
      'a file with inline data',
      [
        user([
          {
            type: 'file',
            file: { file_data: 'data:application/pdf;base64,AAAA', filename: 'a.pdf' },
          },
        ]),
      ],
    ],
    ['a file by id', [user([{ type: 'file', file: { file_id: 'file-123' } }])]],
    ['an unknown part type', [user([{ type: 'future_thing', x: 1 }])]],
    ['unknown message fields', [{ role: 'user', content: 'x', weight: 1 }]],
  ])('accepts %s', (_, messages) => {
    expect(() => checkMessages(messages, constraints(), 'llama')).not.toThrow();
  });

  it.each<[string, unknown, Partial<ModelConstraints>, ErrorCode, string]>([
    ['absent messages', undefined, {}, 'missing_field', 'messages'],
    ['messages not an array', 'hi', {}, 'invalid_field', 'messages'],
    ['no messages', [], {}, 'invalid_field', 'messages'],
    ['a message that is not an object', ['hi'], {}, 'invalid_field', 'messages[0]'],
    ['a missing role', [{ content: 'x' }], {}, 'missing_field', 'messages[0].role'],
    [
      'an unknown role',
      [user('x'), { role: 'wizard', content: 'x' }],
      {},
      'invalid_field',
      'messages[1].role',
    ],
    ['missing user content', [{ role: 'user' }], {}, 'missing_field', 'messages[0].content'],
    ['content of the wrong type', [user(42)], {}, 'invalid_field', 'messages[0].content'],
    ['a part that is not an object', [user(['x'])], {}, 'invalid_field', 'messages[0].content[0]'],
    [
      'a part without type',
      [user([{ text: 'x' }])],
      {},
      'missing_field',
      'messages[0].content[0].type',
    ],
    [
      'an http image URL',
      [user([{ type: 'text', text: 'x' }, image('https://example.com/cat.png')])],
      {},
      'image_url_not_supported',
      'messages[0].content[1].image_url.url',
    ],
    [
      'an image URL without image_url.url',
      [user([{ type: 'image_url', image_url: {} }])],
      {},
      'missing_field',
      'messages[0].content[0].image_url.url',
    ],
    [
      'a file: image URL to a URL-accepting model',
      [user([image('file:///etc/passwd')])],
      { acceptsImageUrl: true },
      'image_url_not_supported',
      'messages[0].content[0].image_url.url',
    ],
    [
      'an image URL with credentials',
      [user([image('https://u:p@example.com/x.png')])],
      { acceptsImageUrl: true },
      'image_url_not_supported',
      'messages[0].content[0].image_url.url',
    ],
    [
      'a bad inline image',
      [user([image('data:image/png;base64,@@@@')])],
      {},
      'image_decode_error',
      'messages[0].content[0].image_url.url',
    ],
    [
      'a leading space before data:',
      [user([image(` ${PNG_URI}`)])],
      {},
      'image_url_not_supported',
      'messages[0].content[0].image_url.url',
    ],
    [
      'an image to a text-only model',
      [user([image(PNG_URI)])],
      { acceptsImages: false },
      'invalid_field',
      'messages[0].content[0]',
    ],
    [
      'an audio URL',
      [user([{ type: 'audio_url', audio_url: { url: 'https://x/a.wav' } }])],
      {},
      'media_url_not_supported',
      'messages[0].content[0].audio_url.url',
    ],
    [
      'a video URL',
      [user('x'), user([{ type: 'video_url', video_url: { url: 'HTTP://x/v.mp4' } }])],
      {},
      'media_url_not_supported',
      'messages[1].content[0].video_url.url',
    ],
    [
      'a file URL',
      [user([{ type: 'file', file: { file_data: 'https://x/a.pdf' } }])],
      {},
      'media_url_not_supported',
      'messages[0].content[0].file.file_data',
    ],
    [
      'a protocol-relative file URL',
      [user([{ type: 'file', file: { url: '//x/a.pdf' } }])],
      {},
      'media_url_not_supported',
      'messages[0].content[0].file.url',
    ],
  ])('refuses %s', (_, messages, over, code, param) => {
    expect(errorOf(() => checkMessages(messages, constraints(over), 'llama'))).toMatchObject({
      code,
      param,
    });
  });

  it('accepts an http image URL for a model that takes URLs', () => {
    const messages = [user([image('https://example.com/cat.png')])];
    expect(() =>
      checkMessages(messages, constraints({ acceptsImageUrl: true }), 'llama'),
    ).not.toThrow();
  });

  it('walks the largest accepted list quickly, and refuses one entry more at once', () => {
    const messages = Array.from({ length: MAX_LIST_ITEMS }, () => user('x'));
    const started = performance.now();
    checkMessages(messages, constraints(), 'llama');
    // Generous on purpose: a single walk takes milliseconds even on a loaded machine; the bound
    // only catches work that grows with the square of the list (a rescan per entry).
    expect(performance.now() - started).toBeLessThan(1000);
    messages.push(user('x'));
    expect(errorOf(() => checkMessages(messages, constraints(), 'llama'))).toMatchObject({
      code: 'invalid_field',
      param: 'messages',
    });
    const parts = Array.from({ length: MAX_LIST_ITEMS + 1 }, () => ({ type: 'text', text: 'x' }));
    expect(errorOf(() => checkMessages([user(parts)], constraints(), 'llama'))).toMatchObject({
      code: 'invalid_field',
      param: 'messages[0].content',
    });
  });
});

describe(requireJsonObject.name, () => {
  it.each([[null], [[]], ['x'], [3]])('refuses %j with invalid_field', (body) => {
    expect(errorOf(() => requireJsonObject(body))).toMatchObject({
      code: 'invalid_field',
      param: null,
    });
  });
});

describe(checkEmbeddingsInput.name, () => {
  it('accepts strings, string arrays and token arrays', () => {
    for (const input of ['x', ['a', 'b'], [[1, 2]]]) {
      expect(() => checkEmbeddingsInput(input)).not.toThrow();
    }
  });
  it.each([
    [undefined, 'missing_field'],
    [[], 'invalid_field'],
    [42, 'invalid_field'],
  ])('refuses %j', (input, code) => {
    expect(errorOf(() => checkEmbeddingsInput(input))).toMatchObject({ code, param: 'input' });
  });
});
