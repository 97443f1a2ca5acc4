import { ServerResponse } from 'node:http';
import {
  Behaviour,
  lastUserText,
  ReceivedRequest,
  splitAnswer,
  startScriptedServer,
  writeEvents,
} from 'test/support/scripted-server';

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

export function anthropicInputTokensFor(body: any): number {
  return (JSON.stringify(body?.messages ?? '').length % 89) + 7;
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
  let served = 0;
  const server = await startScriptedServer<AnthropicBehaviour>({
    errorBody: (status) => ({
      type: 'error',
      error: {
        type: status === 529 ? 'overloaded_error' : 'invalid_request_error',
        message: `fake anthropic failure ${status}`,
      },
    }),
    answer: ({ req, res, body, record, behaviour }) =>
      answer(req.method, req.url, res, body, behaviour, record),
  });
  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    port: server.port,
    received: server.received,
    next: server.next,
    always: server.always,
    close: server.close,
  };

  async function answer(
    method: string | undefined,
    url: string | undefined,
    res: ServerResponse,
    body: any,
    behaviour: AnthropicBehaviour,
    record: ReceivedRequest,
  ) {
    const path = (url ?? '').split('?')[0];
    if (method !== 'POST' || !path.endsWith('/messages')) {
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
    await stream(res, message, behaviour, record);
  }

  async function stream(
    res: ServerResponse,
    message: any,
    behaviour: AnthropicBehaviour,
    record: ReceivedRequest,
  ) {
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
        for (const text of splitAnswer(block.text, n)) {
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
        for (const partial_json of splitAnswer(JSON.stringify(block.input), n)) {
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
    const isComplete = await writeEvents(res, events, behaviour, {
      record,
      chunkDelayMs: options.chunkDelayMs,
    });
    if (isComplete) {
      res.end();
    }
  }
}
