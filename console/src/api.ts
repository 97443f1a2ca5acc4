/** The console's only way to the gateway: same origin, session cookie, CSRF header on changes. */

export interface Me {
  authenticated: true;
  user: string;
  role: 'admin' | 'viewer';
  csrf_token: string;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;

export function rememberCsrf(token: string | null): void {
  csrfToken = token;
}

/** Listeners told when the session ends (401), so the app shows the sign-in page. */
const signedOut = new Set<() => void>();
export const onSignedOut = (listener: () => void) => signedOut.add(listener);

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  if (method !== 'GET' && csrfToken) {
    headers['x-csrf-token'] = csrfToken;
  }
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && path !== '/api/login' && path !== '/api/me') {
      signedOut.forEach((listener) => listener());
    }
    throw new ApiFailure(res.status, error?.code ?? 'unknown', error?.message ?? res.statusText);
  }
  return parsed as T;
}

export async function currentUser(): Promise<Me | null> {
  try {
    const me = await api<Me>('GET', '/api/me');
    rememberCsrf(me.csrf_token);
    return me;
  } catch {
    return null;
  }
}

/** Sends a streamed /c1 turn and calls `onDelta` with each piece of answer text. */
export async function streamTurn(
  body: Record<string, unknown>,
  conversationId: string | null,
  onStart: (conversationId: string) => void,
  onDelta: (text: string) => void,
): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (csrfToken) {
    headers['x-csrf-token'] = csrfToken;
  }
  if (conversationId) {
    headers['x-conversation-id'] = conversationId;
  }
  const res = await fetch('/c1/chat/completions', {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...body, stream: true }),
    credentials: 'same-origin',
  });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let message = res.statusText;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiFailure(res.status, 'turn_failed', message);
  }
  onStart(res.headers.get('x-conversation-id') ?? '');
  await readStream(res.body, onDelta);
}

/**
 * Re-attaches to a turn still being answered, where the gateway offers it
 * (GET /c1/conversations/{id}/stream). False when it does not: then the caller polls.
 */
export async function reattach(
  conversationId: string,
  onDelta: (text: string) => void,
): Promise<boolean> {
  const res = await fetch(`/c1/conversations/${conversationId}/stream`, {
    credentials: 'same-origin',
  });
  if (!res.ok || !res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
    return false;
  }
  await readStream(res.body, onDelta);
  return true;
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  onDelta: (text: string) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      break;
    }
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) {
          continue;
        }
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          return;
        }
        const chunk = JSON.parse(data) as {
          choices?: { delta?: { content?: string } }[];
          error?: { message: string };
        };
        if (chunk.error) {
          throw new ApiFailure(502, 'stream_error', chunk.error.message);
        }
        const text = chunk.choices?.[0]?.delta?.content;
        if (text) {
          onDelta(text);
        }
      }
    }
  }
}
