import {
  DEFAULT_MAX_EVENT_BYTES,
  parseBlock,
  SseEvent,
  SseEventTooLargeError,
} from 'src/modules/proxy/sse/sse-decoder';

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

/**
 * Incremental SSE framing on bytes (WHATWG "event stream"): finds where each event ends
 * without decoding anything, so that an event passed on untouched is never turned into a
 * string. Boundaries are the same as `SseDecoder`'s (two line terminators in a row: `\n`,
 * `\r\n` or a lone `\r`, mixed; stray blank lines skipped): found by looking for `\n` (a
 * `memchr`) until the stream shows a `\r`, byte by byte from then on. UTF-8 needs no care: a
 * boundary is ASCII, so an event's bytes are always whole characters.
 *
 * After `push` (or `end`), `bytes` holds what was scanned and `marks` three offsets into it per
 * complete event: where its text starts (stray blank lines before it skipped), where it ends
 * (its blank line excluded), and where the next event's bytes begin. The bytes after the last
 * event are kept for the next chunk; `bytes[0, marks[last])` are exactly the upstream's.
 */
export class SseScanner {
  bytes: Buffer = EMPTY;
  readonly marks: number[] = [];
  /** A `\r` was seen: boundaries are then found byte by byte. */
  hasCr = false;
  /** The unfinished event, in pieces: joined only once its end has arrived (stays linear). */
  private held: Buffer[] = [];
  private heldLength = 0;
  /** Set by `findBoundary`: where the blank line it found ends. */
  private boundaryEnd = 0;

  constructor(private readonly maxEventBytes = DEFAULT_MAX_EVENT_BYTES) {}

  /** Scans one chunk; `marks` then lists the events it completed (possibly none). */
  push(chunk: Buffer): void {
    this.marks.length = 0;
    this.bytes = EMPTY;
    if (chunk.length === 0) {
      return;
    }
    if (!this.hasCr && chunk.indexOf(CR) !== -1) {
      this.hasCr = true;
    }
    if (this.heldLength > 0 && !this.mayEndEvent(chunk)) {
      this.hold(chunk);
      return;
    }
    const bytes =
      this.heldLength > 0
        ? Buffer.concat([...this.held, chunk], this.heldLength + chunk.length)
        : chunk;
    // A blank line may start up to 3 bytes before the new chunk (`\r\n\r` + `\n`).
    let search = Math.max(0, this.heldLength - 3);
    this.held = [];
    this.heldLength = 0;
    this.bytes = bytes;
    let from = 0;
    for (;;) {
      let start = from;
      while (start < bytes.length && (bytes[start] === LF || bytes[start] === CR)) {
        start++;
      }
      if (start === bytes.length) {
        from = start; // only blank lines: nothing to keep
        break;
      }
      const end = this.findBoundary(bytes, Math.max(start, search));
      if (end === -1) {
        break;
      }
      this.marks.push(start, end, this.boundaryEnd);
      from = this.boundaryEnd;
      search = from;
    }
    if (from < bytes.length) {
      this.hold(from === 0 ? bytes : bytes.subarray(from));
    }
  }

  /** At the end of the stream: the last event, if the upstream did not end it with a blank line. */
  end(): void {
    this.marks.length = 0;
    const bytes = this.heldLength > 0 ? Buffer.concat(this.held, this.heldLength) : EMPTY;
    this.held = [];
    this.heldLength = 0;
    this.bytes = bytes;
    let start = 0;
    let end = bytes.length;
    while (start < end && (bytes[start] === LF || bytes[start] === CR)) {
      start++;
    }
    while (end > start && (bytes[end - 1] === LF || bytes[end - 1] === CR)) {
      end--;
    }
    if (end > start) {
      this.marks.push(start, end, bytes.length);
    }
  }

  /** The `i`-th event of the last scan, decoded. */
  event(i: number): SseEvent {
    return parseBlock(this.bytes.toString('utf8', this.marks[3 * i], this.marks[3 * i + 1]));
  }

  /**
   * Where the value of the `i`-th event starts in `bytes` when it is one `data:` line in a
   * stream without `\r` (the usual chunk; it ends where the event does), or -1 for any other
   * event.
   */
  dataLineAt(i: number): number {
    if (this.hasCr) {
      return -1;
    }
    const bytes = this.bytes;
    const start = this.marks[3 * i];
    const isData =
      bytes[start] === 0x64 && // d
      bytes[start + 1] === 0x61 && // a
      bytes[start + 2] === 0x74 && // t
      bytes[start + 3] === 0x61 && // a
      bytes[start + 4] === 0x3a; // :
    if (!isData || bytes.indexOf(LF, start) < this.marks[3 * i + 1]) {
      return -1;
    }
    return bytes[start + 5] === 0x20 ? start + 6 : start + 5;
  }

  /** Whether `chunk`, after the held bytes, may complete an event. */
  private mayEndEvent(chunk: Buffer): boolean {
    if (this.hasCr) {
      return chunk.indexOf(LF) !== -1 || chunk.indexOf(CR) !== -1;
    }
    const last = this.held[this.held.length - 1];
    return (last[last.length - 1] === LF && chunk[0] === LF) || blankLineAt(chunk, 0) !== -1;
  }

  /**
   * The offset of the first blank line at or after `from` (its end in `boundaryEnd`), or -1.
   * A `\r` at the very end counts as a lone CR, as in `SseDecoder`: a `\n` after it in the
   * next chunk at worst starts the next event with an empty line, which is skipped.
   */
  private findBoundary(bytes: Buffer, from: number): number {
    if (!this.hasCr) {
      const at = blankLineAt(bytes, from);
      this.boundaryEnd = at + 2;
      return at;
    }
    for (let i = from; i < bytes.length; i++) {
      const first = bytes[i];
      if (first !== LF && first !== CR) {
        continue;
      }
      const second = first === CR && bytes[i + 1] === LF ? i + 2 : i + 1;
      if (second >= bytes.length) {
        return -1;
      }
      const next = bytes[second];
      if (next === LF || next === CR) {
        this.boundaryEnd = next === CR && bytes[second + 1] === LF ? second + 2 : second + 1;
        return i;
      }
      i = second - 1;
    }
    return -1;
  }

  private hold(piece: Buffer): void {
    this.held.push(piece);
    this.heldLength += piece.length;
    if (this.heldLength > this.maxEventBytes) {
      this.held = [];
      this.heldLength = 0;
      throw new SseEventTooLargeError(
        `an upstream event exceeded ${this.maxEventBytes} bytes without ending`,
      );
    }
  }
}

/**
 * The offset of the first `\n\n` at or after `from`, or -1. A search for the one byte `\n`
 * (usually found at the blank line itself) costs less than `indexOf` of a two-byte needle.
 */
function blankLineAt(bytes: Buffer, from: number): number {
  for (let at = bytes.indexOf(LF, from); at !== -1; at = bytes.indexOf(LF, at + 1)) {
    if (bytes[at + 1] === LF) {
      return at;
    }
  }
  return -1;
}
