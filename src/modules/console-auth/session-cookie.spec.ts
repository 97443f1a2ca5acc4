import {
  clearedSessionCookie,
  readSessionId,
  sessionCookie,
} from 'src/modules/console-auth/session-cookie';

const ID = 'A'.repeat(21) + '_-' + 'z'.repeat(20);

describe('session cookie', () => {
  it('finds the session id among other cookies', () => {
    expect(readSessionId(`theme=dark; parley_session=${ID}; lang=en`)).toBe(ID);
    expect(readSessionId(`parley_session=${ID}`)).toBe(ID);
  });

  it('ignores anything not shaped like one of our ids', () => {
    expect(readSessionId(undefined)).toBeNull();
    expect(readSessionId('')).toBeNull();
    expect(readSessionId('other=1')).toBeNull();
    expect(readSessionId(`parley_session=${ID}x`)).toBeNull();
    expect(readSessionId('parley_session=short')).toBeNull();
    expect(readSessionId(`parley_session=${ID.slice(1)}!`)).toBeNull();
    expect(readSessionId(`xparley_session=${ID}`)).toBeNull();
    expect(readSessionId(`a=${'b'.repeat(20_000)}; parley_session=${ID}`)).toBeNull();
  });

  it('is HttpOnly and SameSite=Strict, Secure only over https', () => {
    expect(sessionCookie(ID, 3600, false)).toBe(
      `parley_session=${ID}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600`,
    );
    expect(sessionCookie(ID, 3600, true)).toMatch(/; Secure$/);
    expect(clearedSessionCookie(false)).toBe(
      'parley_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
    );
  });
});
