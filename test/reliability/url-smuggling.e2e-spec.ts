import { ErrorCode } from 'src/common/errors/error-catalog';
import { expectApiError } from 'test/support/expect-api-error';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * URLs smuggled into media parts (issue #11): every disguise of a URL, and every data: URI that
 * is not a real inline image, is refused with the catalog code at the exact param, on /v1, /c1
 * and /v1/messages, and the model server never receives a URL a client wrote.
 */
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49]);
const PNG_B64 = PNG.toString('base64');
/** Bytes whose base64 uses `+` and `/`, so the URL-safe alphabet differs. */
const TRICKY = Buffer.concat([PNG, Buffer.from([0xfb, 0xff, 0xfe, 0xfb, 0xef, 0xbe])]);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="fetch(`http://evil`)"/>');

/** Strings the gateway must refuse as an image, with the code it gives. */
const IMAGE_URLS: [string, string, ErrorCode][] = [
  ['plain https', 'https://evil.example/cat.png', 'image_url_not_supported'],
  ['mixed-case scheme', 'HtTpS://evil.example/cat.png', 'image_url_not_supported'],
  ['leading space', ' http://evil.example/cat.png', 'image_url_not_supported'],
  ['leading tab and newline', '\t\nhttp://evil.example/cat.png', 'image_url_not_supported'],
  ['backslashes', 'http:\\\\evil.example\\cat.png', 'image_url_not_supported'],
  ['scheme-relative //host', '//evil.example/cat.png', 'image_url_not_supported'],
  ['userinfo', 'http://user:pass@evil.example/cat.png', 'image_url_not_supported'],
  ['userinfo hiding the host', 'http://trusted.example@evil.example/', 'image_url_not_supported'],
  ['file:', 'file:///etc/passwd', 'image_url_not_supported'],
  ['gopher:', 'gopher://127.0.0.1:6379/_FLUSHALL', 'image_url_not_supported'],
  ['ftp:', 'ftp://evil.example/cat.png', 'image_url_not_supported'],
  ['javascript:', 'javascript:alert(1)', 'image_url_not_supported'],
  ['an internal address', 'http://169.254.169.254/latest/meta-data/', 'image_url_not_supported'],
  [
    'data:text/html',
    `data:text/html;base64,${Buffer.from('<script>1</script>').toString('base64')}`,
    'image_decode_error',
  ],
  ['SVG', `data:image/svg+xml;base64,${SVG.toString('base64')}`, 'image_decode_error'],
  [
    'URL-safe base64',
    `data:image/png;base64,${TRICKY.toString('base64url')}`,
    'image_decode_error',
  ],
  [
    'missing padding',
    `data:image/png;base64,${TRICKY.toString('base64').replace(/=+$/, '')}`,
    'image_decode_error',
  ],
  [
    'padding in the middle',
    `data:image/png;base64,${PNG_B64.slice(0, 8)}=${PNG_B64.slice(9)}`,
    'image_decode_error',
  ],
  [
    'whitespace in the data',
    `data:image/png;base64,${PNG_B64.slice(0, 8)} ${PNG_B64.slice(8)}`,
    'image_decode_error',
  ],
  ['not base64 at all', 'data:image/png,%89PNG', 'image_decode_error'],
  ['a PNG declared as JPEG', `data:image/jpeg;base64,${PNG_B64}`, 'image_decode_error'],
  [
    'a URL declared as an image',
    `data:image/png;base64,${Buffer.from('http://evil.example/').toString('base64')}`,
    'image_decode_error',
  ],
  [
    'a URL after the data: prefix',
    'data:image/png;base64,http://evil.example/x',
    'image_decode_error',
  ],
];

describe('URL smuggling in media parts', () => {
  let up: FakeUpstream;
  let urlUp: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    [up, urlUp] = await Promise.all([startFakeUpstream(), startFakeUpstream()]);
    gw = await startGateway({
      models: {
        models: [
          {
            alias: 'inline-only',
            upstreams: [{ url: up.url, format: 'openai', model: 'fake-model' }],
            constraints: { max_output_tokens: 1000, context_window: 100_000, accepts_images: true },
          },
          {
            alias: 'takes-urls',
            upstreams: [{ url: urlUp.url, format: 'openai', model: 'fake-model' }],
            constraints: {
              max_output_tokens: 1000,
              context_window: 100_000,
              accepts_images: true,
              accepts_image_url: true,
            },
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all([up?.close(), urlUp?.close()]);
  });

  const chatWithImage = (model: string, url: string) => ({
    model,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url } },
        ],
      },
    ],
  });

  it.each(IMAGE_URLS)('/v1 and /c1 refuse %s', async (_name, url, code) => {
    for (const path of ['/v1/chat/completions', '/c1/chat/completions']) {
      const res = await gw.post(path, chatWithImage('inline-only', url));
      expectApiError(res, 400, code, { param: 'messages[0].content[1].image_url.url' });
    }
  });

  it.each(IMAGE_URLS)('/v1/messages refuses %s as an image source', async (_name, url, code) => {
    const source = url.startsWith('data:')
      ? {
          type: 'base64',
          media_type: /^data:([^;,]+)/.exec(url)![1],
          data: url.slice(url.indexOf(',') + 1),
        }
      : { type: 'url', url };
    const res = await gw.post('/v1/messages', {
      model: 'inline-only',
      max_tokens: 16,
      messages: [{ role: 'user', content: [{ type: 'image', source }] }],
    });
    // The translation rebuilds the data: URI from media_type and data; a wrong one is refused
    // like on /v1, named by the Anthropic path.
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.param).toMatch(/^messages\[0\]\.content\[0\]\.source(\.url|\.data)?$/);
  });

  it('refuses an inline image larger than 20 MiB once decoded', async () => {
    const big = Buffer.alloc(20 * 1024 * 1024 + 3);
    PNG.copy(big);
    const res = await gw.post(
      '/v1/chat/completions',
      chatWithImage('inline-only', `data:image/png;base64,${big.toString('base64')}`),
    );
    expectApiError(res, 400, 'image_decode_error', {
      param: 'messages[0].content[1].image_url.url',
    });
  });

  it('accepts a real inline image, in any case of the data: scheme', async () => {
    for (const prefix of ['data:image/png;base64,', 'DATA:IMAGE/PNG;BASE64,']) {
      const res = await gw.post(
        '/v1/chat/completions',
        chatWithImage('inline-only', prefix + PNG_B64),
      );
      expect(res.status).toBe(200);
    }
  });

  it.each([
    ['audio_url', (url: string) => ({ type: 'audio_url', audio_url: { url } }), 'audio_url.url'],
    ['video_url', (url: string) => ({ type: 'video_url', video_url: { url } }), 'video_url.url'],
    [
      'file.file_url',
      (url: string) => ({ type: 'file', file: { file_url: url } }),
      'file.file_url',
    ],
    [
      'file.file_data',
      (url: string) => ({ type: 'file', file: { file_data: url } }),
      'file.file_data',
    ],
  ])('refuses a disguised URL in a %s part with media_url_not_supported', async (_n, part, at) => {
    for (const url of [
      'https://evil.example/a.mp3',
      'HTTP://evil.example/a.mp3',
      '  //evil.example/a.mp3',
      'file:///etc/passwd',
      'gopher://127.0.0.1:25/x',
    ]) {
      const res = await gw.post('/v1/chat/completions', {
        model: 'inline-only',
        messages: [{ role: 'user', content: [part(url)] }],
      });
      expectApiError(res, 400, 'media_url_not_supported', {
        param: `messages[0].content[0].${at}`,
      });
    }
  });

  it('forwards only plain http(s) URLs to a model that takes URLs, never a disguised one', async () => {
    const forwarded = await gw.post(
      '/v1/chat/completions',
      chatWithImage('takes-urls', 'https://images.example/cat.png'),
    );
    expect(forwarded.status).toBe(200);
    // Disguises only: where a plain URL points (even 169.254.169.254) is the model server's
    // business once the operator set accepts_image_url.
    const disguised = IMAGE_URLS.filter(
      ([name, , code]) =>
        code === 'image_url_not_supported' &&
        !['plain https', 'mixed-case scheme', 'an internal address'].includes(name),
    );
    expect(disguised).toHaveLength(10);
    for (const [, url, code] of disguised) {
      const res = await gw.post('/v1/chat/completions', chatWithImage('takes-urls', url));
      expectApiError(res, 400, code, { param: 'messages[0].content[1].image_url.url' });
    }
    const urls = JSON.stringify(urlUp.received.map((r) => r.body)).match(/[a-z]+:\/\/[^"]*/gi);
    expect(urls).toEqual(['https://images.example/cat.png']);
  });

  it('never let a URL through to the model server behind an inline-only model', () => {
    const seen = JSON.stringify(up.received.map((r) => r.body));
    expect(up.received.length).toBeGreaterThan(0);
    expect(seen).not.toMatch(/(https?|file|gopher|ftp|javascript):|\/\/evil|evil\.example/i);
  });
});
