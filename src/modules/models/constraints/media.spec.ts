import { ApiError } from 'src/common/errors/api-error';
import {
  checkDataImage,
  isPlainHttpUrl,
  isStrictBase64,
  looksLikeUrl,
  MAX_IMAGE_BYTES,
  sniffImageType,
} from 'src/modules/models/constraints/media';

const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48,
]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00', 'latin1');
const WEBP = Buffer.concat([
  Buffer.from('RIFF'),
  Buffer.from([0x24, 0, 0, 0]),
  Buffer.from('WEBPVP8 '),
]);
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>');

const uri = (mime: string, bytes: Buffer) => `data:${mime};base64,${bytes.toString('base64')}`;

function decodeError(url: string): ApiError {
  try {
    checkDataImage(url, 'messages[0].content[1].image_url.url');
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected image_decode_error');
}

describe(isStrictBase64.name, () => {
  it.each([
    ['QUJD', true],
    ['QUI=', true],
    ['QQ==', true],
    ['', false],
    ['QUJ', false],
    ['QQ=', false],
    ['Q===', false],
    ['QU=D', false],
    ['QU JD', false],
    ['QUJD\n', false],
    ['QU-_', false],
    ['QUJD!AAA', false],
  ])('%j → %s', (input, expected) => {
    expect(isStrictBase64(input)).toBe(expected);
  });

  it('is linear on a large payload', () => {
    const big = 'A'.repeat(8 * 1024 * 1024) + '!';
    const started = performance.now();
    expect(isStrictBase64(big.slice(0, -1))).toBe(true);
    expect(isStrictBase64(`${big}AAA`)).toBe(false);
    // Generous on purpose: one linear pass over 8 MiB takes milliseconds even on a loaded
    // machine, while a scan that backtracks or restarts per character takes far longer.
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe(sniffImageType.name, () => {
  it.each([
    [PNG, 'image/png'],
    [JPEG, 'image/jpeg'],
    [GIF, 'image/gif'],
    [Buffer.from('GIF87a\x01\x00', 'latin1'), 'image/gif'],
    [WEBP, 'image/webp'],
    [SVG, null],
    [Buffer.from('RIFF\x24\x00\x00\x00WAVE', 'latin1'), null],
    [Buffer.alloc(0), null],
  ])('%#', (bytes, expected) => {
    expect(sniffImageType(bytes)).toBe(expected);
  });
});

describe(checkDataImage.name, () => {
  it.each([
    ['image/png', PNG, 'image/png'],
    ['image/jpeg', JPEG, 'image/jpeg'],
    ['image/jpg', JPEG, 'image/jpeg'],
    ['IMAGE/PNG', PNG, 'image/png'],
    ['image/gif', GIF, 'image/gif'],
    ['image/webp', WEBP, 'image/webp'],
  ])('accepts %s', (mime, bytes, normalised) => {
    expect(checkDataImage(uri(mime, bytes), 'p')).toBe(normalised);
  });

  it.each([
    [
      'no base64 marker',
      `data:image/png,${PNG.toString('base64')}`,
      /must be data:<image type>;base64/,
    ],
    ['SVG', uri('image/svg+xml', SVG), /unsupported image type "image\/svg\+xml"/],
    ['HTML', uri('text/html', SVG), /unsupported image type "text\/html"/],
    ['a wrong magic number', uri('image/png', JPEG), /is a image\/jpeg image, not image\/png/],
    ['no known magic number', uri('image/png', SVG), /not a image\/png image/],
    ['URL-safe base64', `data:image/png;base64,${PNG.toString('base64url')}-_`, /not valid base64/],
    [
      'missing padding',
      `data:image/png;base64,${PNG.toString('base64').replace(/=+$/, '')}`,
      /not valid base64/,
    ],
    [
      'a character Buffer.from would skip',
      `data:image/png;base64,${PNG.toString('base64').slice(0, 8)}*${PNG.toString('base64').slice(8)}`,
      /not valid base64/,
    ],
    [
      'line breaks',
      `data:image/png;base64,${PNG.toString('base64').slice(0, 8)}\n${PNG.toString('base64').slice(8)}`,
      /not valid base64/,
    ],
    ['an empty payload', 'data:image/png;base64,', /not valid base64/],
  ])('refuses %s with image_decode_error at the param', (_, url, message) => {
    const error = decodeError(url);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe('image_decode_error');
    expect(error.param).toBe('messages[0].content[1].image_url.url');
    expect(error.message).toMatch(message);
  });

  it('refuses an image larger than the cap without decoding it', () => {
    const payload =
      PNG.toString('base64').slice(0, 12) + 'A'.repeat(Math.ceil((MAX_IMAGE_BYTES * 4) / 3) + 8);
    const padded = payload.slice(0, payload.length - (payload.length % 4));
    expect(decodeError(`data:image/png;base64,${padded}`).message).toMatch(/larger than 20 MiB/);
  });
});

describe(isPlainHttpUrl.name, () => {
  it.each([
    ['https://example.com/cat.png', true],
    ['http://example.com:8080/a?b=c#d', true],
    ['HTTPS://EXAMPLE.COM/x', true],
    [' https://example.com/x', false],
    ['https://user:pass@example.com/x', false],
    ['https://user@example.com/x', false],
    ['https:\\\\example.com\\x', false],
    ['//example.com/x', false],
    ['file:///etc/passwd', false],
    ['gopher://example.com/', false],
    ['ftp://example.com/x', false],
    ['https://', false],
    ['https://exa mple.com', false],
  ])('%j → %s', (url, expected) => {
    expect(isPlainHttpUrl(url)).toBe(expected);
  });
});

describe(looksLikeUrl.name, () => {
  it.each([
    ['https://x/a.wav', true],
    ['HTTP://x', true],
    ['  http://x', true],
    ['file:///etc/passwd', true],
    ['//host/x', true],
    ['\\\\host\\x', true],
    ['s3://bucket/key', true],
    ['data:audio/wav;base64,AAAA', false],
    [' data:audio/wav;base64,AAAA', true],
    ['UklGRiQAAABXQVZF', false],
  ])('%j → %s', (value, expected) => {
    expect(looksLikeUrl(value)).toBe(expected);
  });
});
