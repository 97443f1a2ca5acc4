import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { sleep } from 'test/support/time';

/** What a fake upstream does with the next request(s). Default: a well-formed answer. */
export type Behaviour =
  | { kind: 'ok' }
  /** Answer with this status and JSON body. */
  | { kind: 'error'; status: number; body?: unknown }
  /** Accept the request and never answer (until the gateway hangs up). */
  | { kind: 'hang' }
  /** Send headers and `chunks` SSE events, then stop writing without ending. */
  | { kind: 'stall'; chunks: number }
  /** Send headers and `chunks` SSE events, then destroy the socket. */
  | { kind: 'cut'; chunks: number }
  /** Destroy the socket without answering. */
  | { kind: 'reset' }
  /** Answer with these tool calls (finish_reason `tool_calls`); streamed in pieces. */
  | { kind: 'tool_calls'; calls: Array<{ id: string; name: string; arguments: string }> }
  /** Reply with this raw body and content type. */
  | {
      kind: 'raw';
      status?: number;
      contentType: string;
      body: string;
      headers?: Record<string, string>;
    };

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** True once the gateway closed the connection before the answer was complete. */
  hungUp: boolean;
  hungUpAt?: number;
  /** Bytes of streamed events written so far (back-pressure makes this stall). */
  sentBytes: number;
  receivedAt: number;
}

/** One recorded request and the behaviour scripted for it. */
export interface ScriptedRequest<B> {
  req: IncomingMessage;
  res: ServerResponse;
  /** The body, parsed when it is JSON, else the raw text (undefined when empty). */
  body: any;
  record: ReceivedRequest;
  behaviour: B;
}

export interface ScriptedServerSpec<B> {
  /** Answers a request before it is read or recorded (vLLM's `/metrics`); true when it did. */
  intercept?(req: IncomingMessage, res: ServerResponse): boolean;
  /** Awaited once the request is recorded, before any answer (a prefill delay). */
  beforeAnswer?(): Promise<void>;
  /** The JSON body of a scripted `error` answer, in the wire format's error shape. */
  errorBody(status: number): unknown;
  /** Answers every behaviour but the faults (`hang`, `reset`, `error`, `raw`). */
  answer(request: ScriptedRequest<B>): Promise<void>;
}

export interface ScriptedServer<B> {
  port: number;
  received: ReceivedRequest[];
  /** Queue behaviours for the next requests, in order; then back to the fallback. */
  next(...behaviours: B[]): void;
  /** Behaviour for every request once the queue is empty (default `ok`). */
  always(behaviour: B): void;
  openSockets(): number;
  close(): Promise<void>;
}

/**
 * The frame the fake upstreams share: a real node:http server on 127.0.0.1:0 that records
 * every request (and whether the gateway hung up on it), serves queued behaviours and then
 * the fallback, and answers the faults every wire format has the same way.
 */
export async function startScriptedServer<B extends { kind: string }>(
  spec: ScriptedServerSpec<B>,
): Promise<ScriptedServer<B>> {
  const received: ReceivedRequest[] = [];
  const queue: B[] = [];
  let fallback = { kind: 'ok' } as B;
  const sockets = new Set<Socket>();

  const server: Server = createServer((req, res) => {
    if (!spec.intercept?.(req, res)) {
      void handle(req, res);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(chunk as Buffer);
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: any = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      /* keep the raw text */
    }
    const record: ReceivedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body,
      hungUp: false,
      sentBytes: 0,
      receivedAt: Date.now(),
    };
    received.push(record);
    res.on('close', () => {
      if (!res.writableFinished) {
        record.hungUp = true;
        record.hungUpAt = Date.now();
      }
    });
    const behaviour = queue.shift() ?? fallback;
    await spec.beforeAnswer?.();
    if (res.destroyed) {
      return;
    }
    const fault = behaviour as unknown as Behaviour;
    switch (fault.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'error':
        res.writeHead(fault.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(fault.body ?? spec.errorBody(fault.status)));
        return;
      case 'raw':
        res.writeHead(fault.status ?? 200, { 'content-type': fault.contentType, ...fault.headers });
        res.end(fault.body);
        return;
      case 'ok':
      case 'stall':
      case 'cut':
      case 'tool_calls':
        break;
    }
    // The wire's own answers, and behaviours only one fake knows (the Anthropic `message`).
    await spec.answer({ req, res, body, record, behaviour });
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    received,
    next: (...behaviours) => queue.push(...behaviours),
    always: (behaviour) => {
      fallback = behaviour;
    },
    openSockets: () => sockets.size,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Writes SSE events in order, waiting for `drain` and `chunkDelayMs` between them; a `stall`
 * or `cut` behaviour stops after its count of events. Resolves true when every event went out
 * (the caller then ends the stream its wire's way).
 */
export async function writeEvents(
  res: ServerResponse,
  events: string[],
  behaviour: { kind: string; chunks?: number },
  { record, chunkDelayMs }: { record: ReceivedRequest; chunkDelayMs?: number },
): Promise<boolean> {
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) {
      return false;
    }
    if ((behaviour.kind === 'stall' || behaviour.kind === 'cut') && i >= behaviour.chunks!) {
      if (behaviour.kind === 'cut') {
        // Let the chunks already written reach the wire first: destroy() drops unsent data.
        await sleep(20);
        res.socket?.destroy();
      }
      return false;
    }
    record.sentBytes += Buffer.byteLength(events[i]);
    if (!res.write(events[i])) {
      await once(res, 'drain');
    }
    if (chunkDelayMs) {
      await sleep(chunkDelayMs);
    }
  }
  return true;
}

/** The text of the last user turn (string content, or its text parts joined). */
export function lastUserText(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const content = lastUser?.content;
  if (typeof content === 'string') {
    return content;
  }
  return Array.isArray(content)
    ? content
        .filter((p: any) => p?.type === 'text')
        .map((p: any) => p.text)
        .join(' ')
    : '';
}

/** Splits a text into `n` roughly equal pieces for streaming. */
export function splitAnswer(answer: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(answer.length / n));
  const pieces: string[] = [];
  for (let i = 0; i < answer.length; i += size) {
    pieces.push(answer.slice(i, i + size));
  }
  return pieces;
}
