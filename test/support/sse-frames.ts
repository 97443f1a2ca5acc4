export interface SseFrame {
  /** The `event:` name, or null when the frame has none (OpenAI streams). */
  event: string | null;
  /** The `data:` lines joined with newlines. */
  data: string;
}

/**
 * Splits a complete SSE text into frames (blank-line separated, `\n` or `\r\n`), skipping
 * comment lines (`: keep-alive`). For tests that read a whole recorded or received stream.
 */
export function parseSseFrames(text: string): SseFrame[] {
  const frames: SseFrame[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) {
        event = line.slice(6).trim();
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
    if (event !== null || data.length > 0) {
      frames.push({ event, data: data.join('\n') });
    }
  }
  return frames;
}

/** The JSON payloads of an OpenAI-style stream, without the final `[DONE]`. */
export function parseSseJson(text: string): unknown[] {
  return parseSseFrames(text)
    .filter((f) => f.data !== '[DONE]')
    .map((f) => JSON.parse(f.data) as unknown);
}
