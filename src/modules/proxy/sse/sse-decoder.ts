import { StringDecoder } from 'node:string_decoder';

/** One server-sent event, as the upstream framed it. */
export interface SseEvent {
  /** The event's own text, exactly as received, without the blank line that ended it. */
  raw: string;
  /** `data:` lines joined with `\n` (empty for comment-only blocks). */
  data: string;
  /** The `event:` field, when present (Anthropic names every event). */
  event?: string;
  id?: string;
  /** True when the block held only comments (`: keep-alive`). */
  isComment: boolean;
}

/** An event longer than this without its blank line is refused: upstream answers are untrusted. */
export const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

export class SseEventTooLargeError extends Error {}

/** Two line terminators in a row (CRLF, LF or a lone CR, mixed as the spec allows). */
const BOUNDARY = /(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)/g;

/**
 * Incremental SSE decoder (WHATWG "event stream" framing). Bytes go in as they arrive; complete
 * events come out, and the unfinished tail is kept for the next chunk. Splits on blank lines
 * (`\n\n`, `\r\n\r\n`, `\r\r`, mixed), including a terminator pair cut between two chunks, and
 * decodes UTF-8 across chunk boundaries. A lone `\r` at the end of a chunk followed by `\n` in the
 * next one at worst leaves an empty line at the start of the next block, which parsing skips.
 */
export class SseDecoder {
  private readonly utf8 = new StringDecoder('utf8');
  /** The unfinished event, in pieces: joining them on every chunk would make long events quadratic. */
  private parts: string[] = [];
  private pendingLength = 0;
  /** The last characters of the unfinished event: a terminator pair may straddle two chunks. */
  private lastChars = '';

  constructor(private readonly maxEventBytes = DEFAULT_MAX_EVENT_BYTES) {}

  /** Decodes one chunk; returns the events it completed (possibly none). */
  push(chunk: Buffer | string): SseEvent[] {
    const decoded = typeof chunk === 'string' ? chunk : this.utf8.write(chunk);
    if (this.pendingLength > 0) {
      const probe = this.lastChars + decoded;
      BOUNDARY.lastIndex = 0;
      if (!BOUNDARY.test(probe)) {
        this.keep(decoded, probe);
        return [];
      }
    }
    const text = this.pendingLength > 0 ? this.parts.join('') + decoded : decoded;
    const events: SseEvent[] = [];
    let start = 0;
    BOUNDARY.lastIndex = Math.max(0, this.pendingLength - this.lastChars.length);
    let match: RegExpExecArray | null;
    while ((match = BOUNDARY.exec(text)) !== null) {
      const end = match.index;
      let block = text.slice(start, end);
      start = end + match[0].length;
      const first = block.charCodeAt(0);
      if (first === 10 || first === 13) {
        block = block.replace(/^[\r\n]+/, '');
      }
      if (block.length > 0) {
        events.push(parseBlock(block));
      }
    }
    this.parts = [];
    this.pendingLength = 0;
    this.lastChars = '';
    if (start < text.length) {
      const tail = start === 0 ? text : text.slice(start);
      this.keep(tail, tail);
    }
    return events;
  }

  /** Call at end of stream: the last event, if the upstream did not end it with a blank line. */
  end(): SseEvent[] {
    const text = (this.parts.join('') + this.utf8.end()).replace(/^[\r\n]+|[\r\n]+$/g, '');
    this.parts = [];
    this.pendingLength = 0;
    this.lastChars = '';
    return text.length > 0 ? [parseBlock(text)] : [];
  }

  /** Characters held back waiting for the end of an event. */
  get pending(): number {
    return this.pendingLength;
  }

  private keep(piece: string, recent: string): void {
    this.parts.push(piece);
    this.pendingLength += piece.length;
    this.lastChars = recent.slice(-3);
    if (this.pendingLength > this.maxEventBytes) {
      this.parts = [];
      this.pendingLength = 0;
      this.lastChars = '';
      throw new SseEventTooLargeError(
        `an upstream event exceeded ${this.maxEventBytes} bytes without ending`,
      );
    }
  }
}

/** Parses one event block (the lines between two blank lines). */
export function parseBlock(block: string): SseEvent {
  // Fast path: the usual single `data: …` line (OpenAI/vLLM chunks).
  if (block.startsWith('data:') && block.indexOf('\n') === -1 && block.indexOf('\r') === -1) {
    const value = block.charCodeAt(5) === 32 ? block.slice(6) : block.slice(5);
    return { raw: block, data: value, isComment: false };
  }
  const lines = block.split(/\r\n|\r|\n/);
  let data: string | null = null;
  let event: string | undefined;
  let id: string | undefined;
  let hasField = false;
  for (const line of lines) {
    if (line.length === 0 || line.charCodeAt(0) === 58 /* : */) {
      continue;
    }
    hasField = true;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) {
      value = value.slice(1);
    }
    switch (field) {
      case 'data':
        data = data === null ? value : `${data}\n${value}`;
        break;
      case 'event':
        event = value;
        break;
      case 'id':
        id = value;
        break;
      default:
        break;
    }
  }
  const result: SseEvent = { raw: block, data: data ?? '', isComment: !hasField };
  if (event !== undefined) {
    result.event = event;
  }
  if (id !== undefined) {
    result.id = id;
  }
  return result;
}
