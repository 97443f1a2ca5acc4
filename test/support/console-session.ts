import { GatewayResponse, TestGateway } from 'test/support/start-gateway';

export const CONSOLE_ADMIN_PASSWORD = 'console-admin-password-1';

export interface ConsoleSignIn {
  /** `parley_session=<id>`: what a browser would send back. */
  cookie: string;
  csrf: string;
  setCookie: string;
  res: GatewayResponse;
}

/** POST /api/login with no other credential; throws unless it answers 200 with a cookie. */
export async function signIn(
  gw: TestGateway,
  username = 'admin',
  password = CONSOLE_ADMIN_PASSWORD,
  headers: Record<string, string> = {},
): Promise<ConsoleSignIn> {
  const res = await gw.post('/api/login', { username, password }, { key: null, headers });
  if (res.status !== 200) {
    throw new Error(`sign-in as ${username} answered ${res.status}: ${res.text}`);
  }
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { cookie: setCookie.split(';')[0], csrf: res.body.csrf_token, setCookie, res };
}

/** A request as the browser makes it: the session cookie, and the CSRF header when given. */
export function withSession(
  gw: TestGateway,
  session: { cookie: string; csrf?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<GatewayResponse> {
  const headers: Record<string, string> = { cookie: session.cookie };
  if (session.csrf !== undefined) {
    headers['x-csrf-token'] = session.csrf;
  }
  return gw.request(method, path, body, { key: null, headers });
}
