import { once } from 'node:events';
import { ClientRequest, request as httpRequest } from 'node:http';
import { connect, Socket } from 'node:net';
import { TEST_API_KEY } from 'test/support/start-gateway';

/**
 * Sends a POST of `body` as JSON with the test key, on a connection of its own (no agent):
 * for tests that pause, read slowly or drop the response themselves.
 */
export function startJsonPost(url: string, body: unknown): ClientRequest {
  const payload = JSON.stringify(body);
  const req = httpRequest(url, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(payload)),
    },
  });
  req.end(payload);
  return req;
}

/** What `postAndRead` got: the status, the headers and the body read so far, as UTF-8. */
export interface ReadAnswer {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

/**
 * POSTs `body` (JSON, or nothing) on a connection of its own and reads the answer as text;
 * with `hangUpAfterBytes`, hangs up once that much has arrived (a client leaving mid-stream)
 * and resolves with what it read.
 */
export function postAndRead(
  url: string,
  body?: object,
  hangUpAfterBytes?: number,
): Promise<ReadAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      method: 'POST',
      agent: false,
      ...(body ? { headers: { 'content-type': 'application/json' } } : {}),
    });
    req.on('error', () => undefined);
    req.on('response', (res) => {
      let text = '';
      const answer = () => ({ status: res.statusCode ?? 0, headers: res.headers, text });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (hangUpAfterBytes !== undefined && text.length >= hangUpAfterBytes) {
          req.destroy();
          resolve(answer());
        }
      });
      res.on('end', () => resolve(answer()));
      res.on('error', reject);
    });
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/**
 * A raw TCP client for tests about the HTTP layer itself: slow headers and bodies, pipelined
 * requests, connections the server closes. Records what the server sent and when it closed.
 */
export interface RawClient {
  socket: Socket;
  /** Everything received so far, as latin1 text. */
  received(): string;
  /** Resolves with the time (Date.now()) the server closed or reset the connection. */
  closed: Promise<number>;
  write(data: string): Promise<void>;
  /** Writes `data` one byte at a time, `intervalMs` apart, until done or the socket closes. */
  trickle(data: string, intervalMs: number): Promise<void>;
  /** Resolves once the received text matches `pattern` (or rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  destroy(): void;
}

export async function openRawClient(port: number): Promise<RawClient> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  const write = (data: string) =>
    new Promise<void>((resolve) => {
      if (isClosed || socket.destroyed) {
        resolve();
        return;
      }
      socket.write(data, 'latin1', () => resolve());
    });
  return {
    socket,
    received: () => text,
    closed,
    write,
    trickle: async (data, intervalMs) => {
      for (const byte of data) {
        if (isClosed || socket.destroyed) {
          return;
        }
        await write(byte);
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },
    waitFor: async (pattern, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${String(pattern)}; received:\n${text}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return text;
    },
    destroy: () => socket.destroy(),
  };
}

/** Splits raw HTTP/1.1 text into responses' status codes, in order. */
export function statusCodes(raw: string): number[] {
  return [...raw.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}
