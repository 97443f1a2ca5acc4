import { performance } from 'node:perf_hooks';
import { SseDecoder, SseEventTooLargeError, parseBlock } from 'src/modules/proxy/sse/sse-decoder';

/** Feeds `chunks` through a decoder and returns the data of every event, ended included. */
function decodeAll(chunks: (string | Buffer)[]): string[] {
  const decoder = new SseDecoder();
  const events = chunks.flatMap((c) => decoder.push(c));
  return [...events, ...decoder.end()].map((e) => e.data);
}

/** Every way to cut `text` into two chunks. */
function allSplits(text: string): [string, string][] {
  return Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);
}

describe(SseDecoder.name, () => {
  it.each([
    ['LF', 'data: a\n\ndata: b\n\n', ['a', 'b']],
    ['CRLF', 'data: a\r\n\r\ndata: b\r\n\r\n', ['a', 'b']],
    ['CR', 'data: a\r\rdata: b\r\r', ['a', 'b']],
    ['mixed terminators', 'data: a\n\r\ndata: b\r\n\n', ['a', 'b']],
    ['multi-line data', 'data: a\ndata: b\n\n', ['a\nb']],
    ['no space after colon', 'data:a\n\n', ['a']],
    ['an unterminated last event', 'data: a\n\ndata: b', ['a', 'b']],
    ['extra blank lines', '\n\n\ndata: a\n\n\n\n', ['a']],
  ])('splits %s', (_, text, expected) => {
    expect(decodeAll([text])).toEqual(expected);
  });

  it.each([
    ['LF', 'data: {"x":1}\n\ndata: [DONE]\n\n'],
    ['CRLF', 'data: {"x":1}\r\n\r\ndata: [DONE]\r\n\r\n'],
    ['with comments and names', ': keep-alive\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n'],
  ])('gives the same events however %s text is cut into two chunks', (_, text) => {
    const whole = decodeAll([text]);
    for (const [a, b] of allSplits(text)) {
      expect(decodeAll([a, b])).toEqual(whole);
    }
  });

  it('decodes UTF-8 split inside a character', () => {
    const bytes = Buffer.from('data: héllo 🌍\n\n', 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      expect(decodeAll([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(['héllo 🌍']);
    }
  });

  it('keeps the unfinished tail until its blank line arrives', () => {
    const decoder = new SseDecoder();
    expect(decoder.push('data: par')).toEqual([]);
    expect(decoder.pending).toBe(9);
    expect(decoder.push('tial\n')).toEqual([]);
    expect(decoder.push('\n').map((e) => e.raw)).toEqual(['data: partial']);
    expect(decoder.pending).toBe(0);
  });

  it('stays linear on a long event in small chunks', () => {
    const decoder = new SseDecoder();
    const piece = 'x'.repeat(1024);
    const started = performance.now();
    decoder.push('data: ');
    for (let i = 0; i < 4096; i++) {
      decoder.push(piece);
    }
    expect(decoder.push('\n\n')[0].data.length).toBe(4096 * 1024);
    // A rescan of the held bytes per piece would touch ~8 GB here (seconds to minutes); a
    // linear scan takes milliseconds. The bound sits far from both, for a loaded machine.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses an event larger than its cap', () => {
    const decoder = new SseDecoder(100);
    expect(() => decoder.push(`data: ${'x'.repeat(200)}`)).toThrow(SseEventTooLargeError);
  });
});

describe(parseBlock.name, () => {
  it.each([
    ['data: {"a":1}', { raw: 'data: {"a":1}', data: '{"a":1}', isComment: false }],
    [': keep-alive', { raw: ': keep-alive', data: '', isComment: true }],
    [
      'event: message_start\ndata: {}',
      {
        raw: 'event: message_start\ndata: {}',
        data: '{}',
        event: 'message_start',
        isComment: false,
      },
    ],
    ['id: 7\ndata: x', { raw: 'id: 7\ndata: x', data: 'x', id: '7', isComment: false }],
    ['data', { raw: 'data', data: '', isComment: false }],
    ['retry: 10', { raw: 'retry: 10', data: '', isComment: false }],
  ])('%j', (block, expected) => {
    expect(parseBlock(block)).toEqual(expected);
  });
});
