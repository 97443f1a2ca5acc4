import { readCredentials } from 'src/modules/auth/credentials';

const KEY = 'pk-0123456789abcdefABCDEF';

describe(readCredentials.name, () => {
  it.each([
    ['Bearer', `Bearer ${KEY}`, undefined],
    ['a lowercase scheme (RFC 7235: case-insensitive)', `bearer ${KEY}`, undefined],
    ['an upper-case scheme', `BEARER ${KEY}`, undefined],
    ['several spaces after the scheme', `Bearer   ${KEY}`, undefined],
    ['x-api-key alone', undefined, KEY],
    ['both headers with the same key', `Bearer ${KEY}`, KEY],
    ['an empty Authorization next to x-api-key', '', KEY],
  ])('reads the key from %s', (_case, authorization, apiKey) => {
    expect(readCredentials(authorization, apiKey)).toEqual({ kind: 'key', key: KEY });
  });

  it.each([
    ['no header', undefined, undefined],
    ['empty headers', '', ''],
  ])('reports missing credentials for %s', (_case, authorization, apiKey) => {
    expect(readCredentials(authorization, apiKey)).toEqual({ kind: 'missing' });
  });

  it.each([
    ['a scheme without a token', 'Bearer', undefined],
    ['a scheme and a space', 'Bearer ', undefined],
    ['another scheme', `Basic ${KEY}`, undefined],
    ['no scheme', KEY, undefined],
    ['a token with a space inside', `Bearer ${KEY} extra`, undefined],
    ['a tab instead of a space', `Bearer\t${KEY}`, undefined],
    ['a 20 KB token', `Bearer ${'a'.repeat(20 * 1024)}`, undefined],
    ['a 20 KB x-api-key', undefined, 'a'.repeat(20 * 1024)],
    ['a token longer than any key', `Bearer ${'a'.repeat(257)}`, undefined],
    ['a token shorter than any key', 'Bearer short', undefined],
    ['a non-ASCII token', `Bearer ${KEY}é`, undefined],
    ['a control character', undefined, `${KEY}\u0001`],
    ['two headers naming different keys', `Bearer ${KEY}`, `${KEY}x`],
    ['a valid x-api-key next to a malformed Authorization', `Basic ${KEY}`, KEY],
    ['a valid Bearer next to a malformed x-api-key', `Bearer ${KEY}`, 'bad key'],
    ['a repeated header', [`Bearer ${KEY}`, `Bearer ${KEY}`], undefined],
  ])('reports %s as malformed', (_case, authorization, apiKey) => {
    expect(readCredentials(authorization, apiKey)).toEqual({ kind: 'malformed' });
  });
});
