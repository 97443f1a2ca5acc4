import { ApiError } from 'src/common/errors/api-error';

/** OpenAI's own limit for one inline image; also bounds what a client can make us scan. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

export type ImageMime = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif';

const MIME_ALIASES: Record<string, ImageMime> = {
  'image/jpeg': 'image/jpeg',
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/png': 'image/png',
  'image/webp': 'image/webp',
  'image/gif': 'image/gif',
};

/** `data:<type>/<subtype>[;param=value]*;base64,` — the header only, matched on a short prefix. */
const DATA_URI_HEADER = /^data:([a-z0-9.+-]+\/[a-z0-9.+-]+)((?:;[a-z0-9.+-]+=[^;,]*)*);base64,/i;
const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict RFC 4648 base64: standard alphabet, length a multiple of 4, at most two `=` and only
 * at the end. `Buffer.from(s, 'base64')` would silently skip anything else (URL-safe `-_`,
 * spaces, newlines), so the alphabet is checked here before any decoding.
 */
export function isStrictBase64(s: string): boolean {
  return s.length > 0 && s.length % 4 === 0 && BASE64_BODY.test(s);
}

/** Bytes decoded from a strict base64 string of this length (padding subtracted). */
export function decodedLength(b64: string): number {
  const padding = b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

/** The image type the leading bytes announce (magic numbers), or null. */
export function sniffImageType(head: Uint8Array): ImageMime | null {
  const at = (i: number) => head[i];
  if (at(0) === 0xff && at(1) === 0xd8 && at(2) === 0xff) {
    return 'image/jpeg';
  }
  if (
    at(0) === 0x89 &&
    at(1) === 0x50 &&
    at(2) === 0x4e &&
    at(3) === 0x47 &&
    at(4) === 0x0d &&
    at(5) === 0x0a &&
    at(6) === 0x1a &&
    at(7) === 0x0a
  ) {
    return 'image/png';
  }
  if (
    at(0) === 0x47 &&
    at(1) === 0x49 &&
    at(2) === 0x46 &&
    at(3) === 0x38 &&
    (at(4) === 0x37 || at(4) === 0x39) &&
    at(5) === 0x61
  ) {
    return 'image/gif';
  }
  if (
    at(0) === 0x52 &&
    at(1) === 0x49 &&
    at(2) === 0x46 &&
    at(3) === 0x46 &&
    at(8) === 0x57 &&
    at(9) === 0x45 &&
    at(10) === 0x42 &&
    at(11) === 0x50
  ) {
    return 'image/webp';
  }
  return null;
}

/** True when `url` starts with the `data:` scheme (case-insensitive, nothing before it). */
export function isDataUri(url: string): boolean {
  return url.length >= 5 && url.slice(0, 5).toLowerCase() === 'data:';
}

/**
 * Checks an inline image: MIME type among jpeg/png/webp/gif, strict base64, size, and magic
 * bytes matching the declared type. Only the first 16 base64 characters are decoded.
 * Throws 400 `image_decode_error` at `param`; returns the normalised MIME type.
 */
export function checkDataImage(url: string, param: string): ImageMime {
  const fail = (why: string) => new ApiError('image_decode_error', `${param}: ${why}`, { param });
  const header = DATA_URI_HEADER.exec(url.slice(0, 256));
  if (!header) {
    throw fail('an inline image must be data:<image type>;base64,<data>');
  }
  const mime = MIME_ALIASES[header[1].toLowerCase()];
  if (!mime) {
    throw fail(
      `unsupported image type "${header[1].slice(0, 60)}"; send image/jpeg, image/png, image/webp or image/gif`,
    );
  }
  const payload = url.slice(header[0].length);
  if (!isStrictBase64(payload)) {
    throw fail('the image data is not valid base64 (standard alphabet, padded, no whitespace)');
  }
  if (decodedLength(payload) > MAX_IMAGE_BYTES) {
    throw fail(`the image is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MiB`);
  }
  const found = sniffImageType(Buffer.from(payload.slice(0, 16), 'base64'));
  if (found !== mime) {
    throw fail(
      found
        ? `the data is a ${found} image, not ${mime}`
        : `the data is not a ${mime} image (its first bytes match no supported image type)`,
    );
  }
  return mime;
}

/**
 * True for an absolute http(s) URL without credentials, whitespace or backslashes: the only
 * URLs forwarded, and only to models with `accepts_image_url`.
 */
export function isPlainHttpUrl(url: string): boolean {
  if (!/^https?:\/\/[^\s\\/?#@]+(?:[/?#][^\s\\]*)?$/i.test(url)) {
    return false;
  }
  try {
    const parsed = new URL(url);
    return (
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      !parsed.username &&
      !parsed.password
    );
  } catch {
    return false;
  }
}

/** True when a string could make the model server fetch something: any scheme but data:, or `//`. */
export function looksLikeUrl(value: string): boolean {
  const trimmed = value.trimStart();
  if (isDataUri(trimmed)) {
    return trimmed !== value;
  }
  return /^[a-z][a-z0-9+.-]*:/i.test(trimmed) || /^[/\\]{2}/.test(trimmed);
}
