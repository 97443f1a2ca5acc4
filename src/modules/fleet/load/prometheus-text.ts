/** One sample of a Prometheus text exposition: its labels and value (NaN and ±Inf kept). */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The exposition is not Prometheus text where it matters (a wanted line does not parse). */
export class ExpositionError extends Error {}

/** Longest line looked at: real expositions stay far below; a longer one is garbage. */
const MAX_LINE = 16 * 1024;
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

/**
 * Reads the samples of the wanted metric names from a Prometheus text exposition (format
 * 0.0.4, which vLLM serves). A small parser rather than a library: the one on npm
 * (parse-prometheus-text-format) is unmaintained and untyped, and builds objects for the
 * thousands of histogram lines Parley never reads; here unwanted lines cost one `indexOf`.
 * A wanted line that does not parse throws `ExpositionError`: a server that lies in one
 * figure is not believed in the others.
 */
export function parsePrometheusText(
  text: string,
  isWanted: (name: string) => boolean,
): Map<string, Sample[]> {
  const samples = new Map<string, Sample[]>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) {
      end = text.length;
    }
    const line = text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end);
    start = end + 1;
    if (line.length === 0 || line[0] === '#') {
      continue;
    }
    const nameEnd = firstOf(line, '{', ' ');
    const name = line.slice(0, nameEnd === -1 ? line.length : nameEnd);
    if (!isWanted(name)) {
      continue;
    }
    if (line.length > MAX_LINE) {
      throw new ExpositionError(`line of ${name} is longer than ${MAX_LINE} characters`);
    }
    const sample = parseSample(line, name, nameEnd);
    let list = samples.get(name);
    if (!list) {
      list = [];
      samples.set(name, list);
    }
    list.push(sample);
  }
  return samples;
}

function firstOf(line: string, a: string, b: string): number {
  const i = line.indexOf(a);
  const j = line.indexOf(b);
  if (i === -1) {
    return j;
  }
  return j === -1 ? i : Math.min(i, j);
}

function parseSample(line: string, name: string, nameEnd: number): Sample {
  if (!METRIC_NAME.test(name) || nameEnd === -1) {
    throw new ExpositionError(`malformed sample line for ${name}`);
  }
  const labels: Record<string, string> = {};
  let rest: string;
  if (line[nameEnd] === '{') {
    const close = line.indexOf('}', nameEnd);
    if (close === -1) {
      throw new ExpositionError(`unterminated labels in ${name}`);
    }
    const body = line.slice(nameEnd + 1, close);
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < body.length) {
      const at = LABEL.lastIndex;
      const match = LABEL.exec(body);
      if (!match) {
        if (body.slice(at).trim() === '') {
          break;
        }
        throw new ExpositionError(`malformed labels in ${name}`);
      }
      labels[match[1]] = match[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    rest = line.slice(close + 1);
  } else {
    rest = line.slice(nameEnd);
  }
  const fields = rest.trim().split(/\s+/);
  if (fields.length < 1 || fields.length > 2 || fields[0] === '') {
    throw new ExpositionError(`malformed value in ${name}`);
  }
  return { labels, value: parseValue(fields[0], name) };
}

function parseValue(raw: string, name: string): number {
  switch (raw) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  const value = Number(raw);
  if (raw.trim() === '' || Number.isNaN(value)) {
    throw new ExpositionError(`value of ${name} is not a number`);
  }
  return value;
}
