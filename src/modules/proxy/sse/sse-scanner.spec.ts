import { performance } from 'node:perf_hooks';
import { SseDecoder, SseEventTooLargeError } from 'src/modules/proxy/sse/sse-decoder';
import { SseScanner } from 'src/modules/proxy/sse/sse-scanner';

/** Every event the scanner finds in `chunks`, ended included, as `SseDecoder` reports them. */
function scanAll(chunks: Buffer[]): { raw: string; data: string }[] {
  const scanner = new SseScanner();
  const events: { raw: string; data: string }[] = [];
  const collect = () => {
    for (let i = 0; i < scanner.marks.length / 3; i++) {
      const { raw, data } = scanner.event(i);
      events.push({ raw, data });
    }
  };
  for (const chunk of chunks) {
    scanner.push(chunk);
    collect();
  }
  scanner.end();
  collect();
  return events;
}

function decodeAll(chunks: Buffer[]): { raw: string; data: string }[] {
  const decoder = new SseDecoder();
  return [...chunks.flatMap((c) => decoder.push(c)), ...decoder.end()].map(({ raw, data }) => ({
    raw,
    data,
  }));
}

describe(SseScanner.name, () => {
  it.each([
    ['LF', 'data: a\n\ndata: b\n\n'],
    ['CRLF', 'data: a\r\n\r\ndata: b\r\n\r\n'],
    ['CR', 'data: a\r\rdata: b\r\r'],
    ['mixed terminators', 'data: a\n\r\ndata: b\r\n\n'],
    ['multi-line data', 'data: a\ndata: b\n\n'],
    ['an unterminated last event', 'data: a\n\ndata: b'],
    ['extra blank lines', '\n\n\ndata: a\n\n\n\n'],
    ['comments and names', ': keep-alive\n\nevent: ping\ndata: {}\n\ndata: [DONE]\n\n'],
    ['a CR only in the second event', 'data: {"x":1}\n\ndata: y\r\n\r\ndata: z\n\n'],
  ])('finds the same events as SseDecoder in %s text, however it is cut in two', (_, text) => {
    const bytes = Buffer.from(text);
    const whole = decodeAll([bytes]);
    expect(scanAll([bytes])).toEqual(whole);
    for (let i = 0; i <= bytes.length; i++) {
      expect(scanAll([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
    }
  });

  it('marks where each event lies, so untouched events can be sent as received', () => {
    const scanner = new SseScanner();
    const text = 'data: {"a":1}\n\n\ndata: {"b":2}\n\ndata: par';
    scanner.push(Buffer.from(text));
    expect(scanner.marks).toEqual([0, 13, 15, 16, 29, 31]);
    expect(scanner.bytes.subarray(0, 31).toString()).toBe(text.slice(0, 31));
    scanner.push(Buffer.from('tial\n\n'));
    expect(scanner.bytes.toString()).toBe('data: partial\n\n');
    expect(scanner.marks).toEqual([0, 13, 15]);
  });

  it('keeps whole UTF-8 characters however the bytes are cut', () => {
    const bytes = Buffer.from('data: héllo 🌍\n\n', 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      expect(scanAll([bytes.subarray(0, i), bytes.subarray(i)]).map((e) => e.data)).toEqual([
        'héllo 🌍',
      ]);
    }
  });

  it('finds the value of a one-line data event, and nothing for any other event', () => {
    const scanner = new SseScanner();
    const value = (i: number) => {
      const at = scanner.dataLineAt(i);
      return at === -1 ? null : scanner.bytes.toString('utf8', at, scanner.marks[3 * i + 1]);
    };
    scanner.push(Buffer.from('data: {"a":1}\n\ndata:[DONE]\n\nevent: x\ndata: y\n\n: ping\n\n'));
    expect([0, 1, 2, 3].map(value)).toEqual(['{"a":1}', '[DONE]', null, null]);
    scanner.push(Buffer.from('data: {"a":1}\r\n\r\n'));
    expect(value(0)).toBeNull();
  });

  it('stays linear on a long event in small chunks', () => {
    const scanner = new SseScanner();
    const piece = Buffer.from('x'.repeat(1024));
    const started = performance.now();
    scanner.push(Buffer.from('data: '));
    for (let i = 0; i < 4096; i++) {
      scanner.push(piece);
    }
    scanner.push(Buffer.from('\n\n'));
    expect(scanner.event(0).data.length).toBe(4096 * 1024);
    // A rescan of the held bytes per piece would touch ~8 GB here (seconds to minutes); a
    // linear scan takes milliseconds. The bound sits far from both, for a loaded machine.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses an event larger than its cap', () => {
    const scanner = new SseScanner(100);
    expect(() => scanner.push(Buffer.from(`data: ${'x'.repeat(200)}`))).toThrow(
      SseEventTooLargeError,
    );
  });
});
