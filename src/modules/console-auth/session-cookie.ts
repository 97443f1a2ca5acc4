/** The console session cookie: its name and how it is read and written. */
export const SESSION_COOKIE = 'parley_session';

/** A session id is 32 random bytes, base64url: exactly 43 characters. */
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** The session id in a `Cookie` header, or null (absent or not shaped like one of ours). */
export function readSessionId(cookieHeader: string | undefined): string | null {
  if (!cookieHeader || cookieHeader.length > 16 * 1024) {
    return null;
  }
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) {
      const value = part.slice(eq + 1).trim();
      return SESSION_ID_PATTERN.test(value) ? value : null;
    }
  }
  return null;
}

/**
 * `Set-Cookie` for a session: HttpOnly (scripts never read it), SameSite=Strict (no other site
 * can make the browser send it), Secure when the request came over https, Path=/ because the
 * playground calls /c1 with it as well as /api.
 */
export function sessionCookie(id: string, maxAgeSeconds: number, isSecure: boolean): string {
  const secure = isSecure ? '; Secure' : '';
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure}`;
}

export function clearedSessionCookie(isSecure: boolean): string {
  return sessionCookie('', 0, isSecure);
}
