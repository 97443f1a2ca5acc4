/**
 * Assembles the final assistant answer of an OpenAI chat completion, streamed or not (pure, no
 * I/O). `OpenAiStreamAccumulator` folds `chat.completion.chunk`s; `assembleCompletion` reads a
 * non-streamed `chat.completion`. Both return the same `AssembledCompletion`, normalised the
 * same way, so that /c1 stores the same turn whichever way the answer travelled:
 * - empty content (`""`) becomes `null` (a tool-call-only answer has no text either way);
 * - reasoning (`reasoning_content` or `reasoning`) is kept as `reasoning_content`;
 * - `tool_calls` is omitted when there are none; each call is `{id, type, function}`.
 */

export interface AssembledToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** The assistant message, in OpenAI's response shape (what `choices[i].message` holds). */
export interface AssembledMessage {
  role: 'assistant';
  content: string | null;
  tool_calls?: AssembledToolCall[];
  reasoning_content?: string;
  refusal?: string;
}

export interface AssembledChoice {
  index: number;
  message: AssembledMessage;
  finish_reason: string | null;
}

export interface AssembledUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface AssembledCompletion {
  id: string | null;
  model: string | null;
  created: number | null;
  /** Sorted by index; `choices[0]` is the answer unless the client asked for `n > 1`. */
  choices: AssembledChoice[];
  usage: AssembledUsage | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

interface ChoiceState {
  index: number;
  content: string;
  reasoning: string;
  refusal: string;
  finishReason: string | null;
  toolCalls: Map<number, AssembledToolCall>;
}

export class OpenAiStreamAccumulator {
  private id: string | null = null;
  private model: string | null = null;
  private created: number | null = null;
  private usage: AssembledUsage | null = null;
  private readonly choices = new Map<number, ChoiceState>();
  private chunkCount = 0;

  /** Folds one parsed chunk (the JSON of one `data:` event). Ignores what it cannot read. */
  push(chunk: unknown): void {
    if (!isObj(chunk)) {
      return;
    }
    this.chunkCount++;
    this.id ??= str(chunk.id) ?? null;
    this.model ??= str(chunk.model) ?? null;
    if (this.created === null && typeof chunk.created === 'number') {
      this.created = chunk.created;
    }
    const usage = readUsage(chunk.usage);
    if (usage) {
      this.usage = usage;
    }
    if (!Array.isArray(chunk.choices)) {
      return;
    }
    for (const [position, raw] of chunk.choices.entries()) {
      if (!isObj(raw)) {
        continue;
      }
      const index = typeof raw.index === 'number' ? raw.index : position;
      const state = this.choice(index);
      if (typeof raw.finish_reason === 'string') {
        state.finishReason = raw.finish_reason;
      }
      const delta = raw.delta;
      if (!isObj(delta)) {
        continue;
      }
      const content = str(delta.content);
      if (content) {
        state.content += content;
      }
      const reasoning = str(delta.reasoning_content) ?? str(delta.reasoning);
      if (reasoning) {
        state.reasoning += reasoning;
      }
      const refusal = str(delta.refusal);
      if (refusal) {
        state.refusal += refusal;
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const [slot, piece] of delta.tool_calls.entries()) {
          if (isObj(piece)) {
            mergeToolCall(
              state.toolCalls,
              typeof piece.index === 'number' ? piece.index : slot,
              piece,
            );
          }
        }
      }
    }
  }

  /** Chunks folded so far (usage-only chunks included). */
  get chunks(): number {
    return this.chunkCount;
  }

  /** The answer assembled from what arrived so far (call at the end, or on a cut stream). */
  result(): AssembledCompletion {
    const choices = [...this.choices.values()]
      .sort((a, b) => a.index - b.index)
      .map((s) =>
        buildChoice(s.index, {
          content: s.content,
          reasoning: s.reasoning,
          refusal: s.refusal,
          toolCalls: [...s.toolCalls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c),
          finishReason: s.finishReason,
        }),
      );
    return { id: this.id, model: this.model, created: this.created, choices, usage: this.usage };
  }

  private choice(index: number): ChoiceState {
    let state = this.choices.get(index);
    if (!state) {
      state = {
        index,
        content: '',
        reasoning: '',
        refusal: '',
        finishReason: null,
        toolCalls: new Map(),
      };
      this.choices.set(index, state);
    }
    return state;
  }
}

/** Same merge rules as the official SDK: id, type and name are set, arguments are appended. */
function mergeToolCall(calls: Map<number, AssembledToolCall>, index: number, piece: Obj): void {
  let call = calls.get(index);
  if (!call) {
    call = { id: '', type: 'function', function: { name: '', arguments: '' } };
    calls.set(index, call);
  }
  const id = str(piece.id);
  if (id) {
    call.id = id;
  }
  const fn = piece.function;
  if (isObj(fn)) {
    const name = str(fn.name);
    if (name) {
      call.function.name = name;
    }
    const args = str(fn.arguments);
    if (args) {
      call.function.arguments += args;
    }
  }
}

function readUsage(value: unknown): AssembledUsage | null {
  if (!isObj(value)) {
    return null;
  }
  const prompt = typeof value.prompt_tokens === 'number' ? value.prompt_tokens : 0;
  const completion = typeof value.completion_tokens === 'number' ? value.completion_tokens : 0;
  const total = typeof value.total_tokens === 'number' ? value.total_tokens : prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
}

function buildChoice(
  index: number,
  parts: {
    content: string;
    reasoning: string;
    refusal: string;
    toolCalls: AssembledToolCall[];
    finishReason: string | null;
  },
): AssembledChoice {
  const message: AssembledMessage = { role: 'assistant', content: parts.content || null };
  if (parts.toolCalls.length > 0) {
    message.tool_calls = parts.toolCalls;
  }
  if (parts.reasoning) {
    message.reasoning_content = parts.reasoning;
  }
  if (parts.refusal) {
    message.refusal = parts.refusal;
  }
  return { index, message, finish_reason: parts.finishReason };
}

/** Reads a non-streamed `chat.completion` into the same shape the accumulator produces. */
export function assembleCompletion(json: unknown): AssembledCompletion {
  if (!isObj(json)) {
    return { id: null, model: null, created: null, choices: [], usage: null };
  }
  const choices: AssembledChoice[] = [];
  if (Array.isArray(json.choices)) {
    for (const [position, raw] of json.choices.entries()) {
      if (!isObj(raw)) {
        continue;
      }
      const message = isObj(raw.message) ? raw.message : {};
      const toolCalls: AssembledToolCall[] = [];
      if (Array.isArray(message.tool_calls)) {
        for (const call of message.tool_calls) {
          if (isObj(call)) {
            const fn = isObj(call.function) ? call.function : {};
            toolCalls.push({
              id: str(call.id) ?? '',
              type: 'function',
              function: { name: str(fn.name) ?? '', arguments: str(fn.arguments) ?? '' },
            });
          }
        }
      }
      choices.push(
        buildChoice(typeof raw.index === 'number' ? raw.index : position, {
          content: str(message.content) ?? '',
          reasoning: str(message.reasoning_content) ?? str(message.reasoning) ?? '',
          refusal: str(message.refusal) ?? '',
          toolCalls,
          finishReason: str(raw.finish_reason) ?? null,
        }),
      );
    }
  }
  choices.sort((a, b) => a.index - b.index);
  return {
    id: str(json.id) ?? null,
    model: str(json.model) ?? null,
    created: typeof json.created === 'number' ? json.created : null,
    choices,
    usage: readUsage(json.usage),
  };
}
