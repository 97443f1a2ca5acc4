import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { Behaviour, ReceivedRequest } from 'test/support/fake-upstream';
import { sleep } from 'test/support/time';

/** A scripted answer: these content blocks (text, thinking, tool_use) and this stop reason. */
export interface ScriptedMessage {
  kind: 'message';
  content: Array<
    | { type: 'text'; text: string }
    | { type: 'thinking'; thinking: string; signature: string }
    | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  >;
  stopReason?: string;
}

export type AnthropicBehaviour = Behaviour | ScriptedMessage;

export interface FakeAnthropicUpstreamOptions {
  /** Delay between SSE events. */
  chunkDelayMs?: number;
  /** Pieces a streamed text (or tool input JSON) is split into. */
  streamChunks?: number;
}

export interface FakeAnthropicUpstream {
  /** Base URL with /v1 (the gateway appends /messages). */
  url: string;
  port: number;
  received: ReceivedRequest[];
  next(...behaviours: AnthropicBehaviour[]): void;
  always(behaviour: AnthropicBehaviour): void;
  close(): Promise<void>;
}

/** The text of the last user turn, as the fake echoes it. */
export function lastUserText(body: any): string {
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const content = lastUser?.content;
  if (typeof content === 'string') {
    return content;
  }
  return Array.isArray(content)
    ? content
        .filter((b: any) => b?.type === 'text')
        .map((b: any) => b.text)
        .join(' ')
    : '';
}

export function anthropicInputTokensFor(body: any): number {
  return (JSON.stringify(body?.messages ?? '').length % 89) + 7;
}

function pieces(text: string, n: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) {
    out.push(text.slice(i, i + size));
  }
  return out;
}

/**
 * A real node:http server on 127.0.0.1:0 speaking the Anthropic Messages API like
 * api.anthropic.com: `POST /v1/messages` answers JSON or the SSE event sequence (message_start,
 * ping, content blocks, message_delta, message_stop), errors in Anthropic's shape. By default
 * it echoes the last user text ("You said: …"); `next()` scripts other answers and faults.
 */
export async function startFakeAnthropicUpstream(
  options: FakeAnthropicUpstreamOptions = {},
): Promise<FakeAnthropicUpstream> {
  const received: ReceivedRequest[] = [];
  const queue: AnthropicBehaviour[] = [];
  let fallback: AnthropicBehaviour = { kind: 'ok' };
  const sockets = new Set<Socket>();
  let served = 0;

  const server: Server = createServer((req, res) => {
    void handle(req, res);
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
    switch (behaviour.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'error':
        res.writeHead(behaviour.status, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            behaviour.body ?? {
              type: 'error',
              error: {
                type: behaviour.status === 529 ? 'overloaded_error' : 'invalid_request_error',
                message: `fake anthropic failure ${behaviour.status}`,
              },
            },
          ),
        );
        return;
      case 'raw':
        res.writeHead(behaviour.status ?? 200, {
          'content-type': behaviour.contentType,
          ...behaviour.headers,
        });
        res.end(behaviour.body);
        return;
      case 'ok':
      case 'stall':
      case 'cut':
      case 'message':
      case 'tool_calls': // scripted here as a `message` of tool_use blocks
        break;
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || !path.endsWith('/messages')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          type: 'error',
          error: { type: 'not_found_error', message: `no route ${path}` },
        }),
      );
      return;
    }
    served += 1;
    const script: ScriptedMessage =
      behaviour.kind === 'message'
        ? behaviour
        : {
            kind: 'message',
            content: [{ type: 'text', text: `You said: ${lastUserText(body)}` }],
          };
    const message = {
      id: `msg_fake_${served}`,
      type: 'message',
      role: 'assistant',
      model: body?.model ?? 'claude-fake',
      content: script.content,
      stop_reason:
        script.stopReason ??
        (script.content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
      stop_sequence: null,
      usage: {
        input_tokens: anthropicInputTokensFor(body),
        output_tokens: (JSON.stringify(script.content).length % 50) + 3,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
      },
    };
    if (!body?.stream) {
      const text = JSON.stringify(message);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'request-id': `req_fake_${served}`,
        'set-cookie': 'upstream-session=secret',
      });
      res.end(text);
      return;
    }
    await stream(res, message, behaviour);
  }

  async function stream(res: ServerResponse, message: any, behaviour: AnthropicBehaviour) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'request-id': `req_fake_${served}`,
    });
    const n = options.streamChunks ?? 4;
    const event = (payload: any) => `event: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`;
    const events: string[] = [
      event({
        type: 'message_start',
        message: {
          ...message,
          content: [],
          stop_reason: null,
          usage: { ...message.usage, output_tokens: 1 },
        },
      }),
      event({ type: 'ping' }),
    ];
    message.content.forEach((block: any, index: number) => {
      if (block.type === 'text') {
        events.push(
          event({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }),
        );
        for (const text of pieces(block.text, n)) {
          events.push(
            event({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }),
          );
        }
      } else if (block.type === 'thinking') {
        events.push(
          event({
            type: 'content_block_start',
            index,
            content_block: { type: 'thinking', thinking: '', signature: '' },
          }),
          event({
            type: 'content_block_delta',
            index,
            delta: { type: 'thinking_delta', thinking: block.thinking },
          }),
          event({
            type: 'content_block_delta',
            index,
            delta: { type: 'signature_delta', signature: block.signature },
          }),
        );
      } else {
        events.push(
          event({
            type: 'content_block_start',
            index,
            content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} },
          }),
        );
        for (const partial_json of pieces(JSON.stringify(block.input), n)) {
          events.push(
            event({
              type: 'content_block_delta',
              index,
              delta: { type: 'input_json_delta', partial_json },
            }),
          );
        }
      }
      events.push(event({ type: 'content_block_stop', index }));
    });
    events.push(
      event({
        type: 'message_delta',
        delta: { stop_reason: message.stop_reason, stop_sequence: null },
        usage: { output_tokens: message.usage.output_tokens },
      }),
      event({ type: 'message_stop' }),
    );
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) {
        return;
      }
      if ((behaviour.kind === 'stall' || behaviour.kind === 'cut') && i >= behaviour.chunks) {
        if (behaviour.kind === 'cut') {
          res.socket?.destroy();
        }
        return;
      }
      if (!res.write(events[i])) {
        await once(res, 'drain');
      }
      if (options.chunkDelayMs) {
        await sleep(options.chunkDelayMs);
      }
    }
    res.end();
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    received,
    next: (...behaviours) => queue.push(...behaviours),
    always: (behaviour) => {
      fallback = behaviour;
    },
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
