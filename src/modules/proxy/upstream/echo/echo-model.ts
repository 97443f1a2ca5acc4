import { epochSeconds } from 'src/common/time/clock';
import { createHash, randomUUID } from 'node:crypto';
import { TokenEstimator } from 'src/common/tokens/token-estimator';
import { Tokenizer } from 'src/modules/proxy/tokenizer';

/** Longer than any o200k token (its longest are runs of spaces or dashes, under 130). */
const MAX_TOKEN_CHARS = 256;

/**
 * The built-in dev model's answers, in the OpenAI wire format (what vLLM would send). It
 * answers with the text of the last user message, cut at `max_tokens`, and counts tokens with
 * a real tokenizer (o200k, the one /c1 estimates history with), so usage, quotas and truncation can be tried without a GPU.
 */

type Obj = Record<string, unknown>;

function textOf(content: unknown): string {
  if (typeof content === 'string') {
    return content;
  }
  if (Array.isArray(content)) {
    return (content as Obj[])
      .filter((p) => p?.type === 'text' && typeof p.text === 'string')
      .map((p) => p.text as string)
      .join(' ');
  }
  return '';
}

export interface EchoAnswer {
  id: string;
  created: number;
  content: string;
  finishReason: 'stop' | 'length';
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** What the echo model answers to a chat request body. */
export function echoAnswer(body: Obj, t: Tokenizer): EchoAnswer {
  const messages = (Array.isArray(body.messages) ? body.messages : []) as Obj[];
  const lastUser = [...messages].reverse().find((m) => m?.role === 'user');
  const full = textOf(lastUser?.content);
  const limit: unknown = body.max_completion_tokens ?? body.max_tokens;
  const cap = typeof limit === 'number' && limit >= 0 ? limit : null;
  // With a cap, only a prefix that surely holds `cap` tokens is encoded (no token is longer
  // than MAX_TOKEN_CHARS), so a long message costs the answer's length, not its own.
  const head = cap === null ? full : full.slice(0, (cap + 1) * MAX_TOKEN_CHARS);
  let tokens = t.encode(head);
  let content = full;
  let finishReason: EchoAnswer['finishReason'] = 'stop';
  if (cap !== null && tokens.length > cap) {
    tokens = tokens.slice(0, cap);
    content = t.decode(tokens);
    finishReason = 'length';
  } else if (head !== full) {
    tokens = t.encode(full);
  }
  // OpenAI's chat accounting: 3 tokens per message, 3 to prime the answer (estimated in
  // bounded time: see TokenEstimator).
  const estimator = new TokenEstimator();
  const prompt = messages.reduce((sum, m) => sum + 3 + estimator.count(textOf(m?.content)), 0) + 3;
  return {
    id: `chatcmpl-echo-${randomUUID()}`,
    created: epochSeconds(),
    content,
    finishReason,
    usage: {
      prompt_tokens: prompt,
      completion_tokens: tokens.length,
      total_tokens: prompt + tokens.length,
    },
  };
}

export function echoCompletionJson(answer: EchoAnswer, model: string): string {
  return JSON.stringify({
    id: answer.id,
    object: 'chat.completion',
    created: answer.created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer.content },
        finish_reason: answer.finishReason,
        logprobs: null,
      },
    ],
    usage: answer.usage,
  });
}

/** The SSE events of a streamed answer: role, one chunk per word, finish, usage?, [DONE]. */
export function echoCompletionEvents(
  answer: EchoAnswer,
  model: string,
  includeUsage: boolean,
): string[] {
  const chunk = (delta: Obj, finish: string | null) =>
    `data: ${JSON.stringify({
      id: answer.id,
      object: 'chat.completion.chunk',
      created: answer.created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    })}\n\n`;
  const words = answer.content.match(/\s*\S+|\s+$/g) ?? [];
  const events = [
    chunk({ role: 'assistant', content: '' }, null),
    ...words.map((w) => chunk({ content: w }, null)),
    chunk({}, answer.finishReason),
  ];
  if (includeUsage) {
    events.push(
      `data: ${JSON.stringify({
        id: answer.id,
        object: 'chat.completion.chunk',
        created: answer.created,
        model,
        choices: [],
        usage: answer.usage,
      })}\n\n`,
    );
  }
  events.push('data: [DONE]\n\n');
  return events;
}

/** Deterministic unit vectors (8 dimensions) derived from each input's hash. */
export function echoEmbeddingsJson(body: Obj, model: string, t: Tokenizer): string {
  const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
  let promptTokens = 0;
  const asBase64 = base64Requested(body);
  const data = inputs.map((input, index) => {
    const text = typeof input === 'string' ? input : JSON.stringify(input ?? '');
    promptTokens += typeof input === 'string' ? t.encode(input).length : (input as []).length;
    const digest = createHash('sha256').update(text).digest();
    const raw = Array.from({ length: 8 }, (_, i) => digest.readInt16BE(i * 2) / 32768);
    const norm = Math.hypot(...raw) || 1;
    const vector = raw.map((x) => x / norm);
    // The official SDKs ask for base64 (little-endian float32) by default.
    const embedding = asBase64
      ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
      : vector;
    return { object: 'embedding', index, embedding };
  });
  return JSON.stringify({
    object: 'list',
    model,
    data,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  });
}

export function echoModelsJson(model: string): string {
  return JSON.stringify({
    object: 'list',
    data: [{ id: model, object: 'model', created: 0, owned_by: 'parley' }],
  });
}

/** `encoding_format: "base64"` (an embeddings option, not a wire format). */
function base64Requested(body: Record<string, unknown>): boolean {
  const encoding = body.encoding_format;
  return encoding === 'base64';
}
