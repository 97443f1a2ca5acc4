import { estimateTextTokens, TokenEstimator } from 'src/common/tokens/token-estimator';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';
import { History, historyMessages, isForwardable } from 'src/modules/conversations/history-chain';

/**
 * Token estimates with a real BPE tokenizer (gpt-tokenizer, o200k_base), bounded in time
 * (`TokenEstimator`). Near-exact for OpenAI's own models and ordinary text, within a few
 * percent for the Llama/Qwen families: enough to keep a prompt inside a context window.
 * Computed once per message, when it is stored.
 */
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Images and other media: a flat estimate (a 1024×1024 image is 765 tokens on OpenAI). */
export const MEDIA_TOKENS = 768;

export function countTextTokens(text: string): number {
  return estimateTextTokens(text);
}

function partTokens(part: NeutralPart, estimator: TokenEstimator): number {
  switch (part.type) {
    case 'text':
      return estimator.count(part.text);
    case 'image':
    case 'media':
      return MEDIA_TOKENS;
    case 'tool_call':
      return (
        estimator.count(part.id) + estimator.count(part.name) + estimator.count(part.arguments) + 8
      );
    case 'tool_result':
      return estimator.count(part.toolCallId) + estimator.count(part.content) + 4;
    case 'reasoning':
      // Forwarded again to anthropic upstreams (with its signature; openai-neutral drops it):
      // counted, so that the window holds whichever upstream serves the next turn.
      return estimator.count(part.text) + estimator.count(part.signature ?? '');
  }
}

/** Tokens of everything the message forwards: its parts and its `name` (#22 item 2). */
export function estimateTokens(message: NeutralMessage): number {
  const estimator = new TokenEstimator();
  return message.parts.reduce(
    (sum, p) => sum + partTokens(p, estimator),
    MESSAGE_OVERHEAD_TOKENS + estimator.count(message.name ?? ''),
  );
}

export interface HistoryWindow {
  /** What is forwarded: system prompt(s), the kept history and the new turn, in order. */
  messages: StoredMessage[];
  /** Eligible history messages left out because the window was full. */
  omitted: number;
}

/** A window that forwards a stored history whole: the chain itself, not walked or copied. */
export interface WholeHistoryWindow {
  kind: 'whole';
  history: History;
  turn: StoredMessage[];
  omitted: 0;
}

/**
 * `selectHistoryWindow` on a chain: when the chain's summary says it is plain and the window
 * holds it all (the usual turn), the chain goes whole without a walk over it; otherwise the
 * window is chosen from its messages.
 */
export function selectChainWindow(
  prior: History,
  turn: StoredMessage[],
  budget: number,
): WholeHistoryWindow | (HistoryWindow & { kind: 'part' }) {
  if (!prior || prior.summary.isPlain) {
    let tokens = prior?.summary.tokens ?? 0;
    for (const m of turn) {
      tokens += m.tokenEstimate;
    }
    if (tokens <= budget) {
      return { kind: 'whole', history: prior, turn, omitted: 0 };
    }
  }
  return { kind: 'part', ...selectHistoryWindow(historyMessages(prior), turn, budget) };
}

/**
 * Chooses what to forward so that the prompt fits `budget` tokens (the model's context window
 * minus `max_tokens`): system messages and the new turn always go; then the most recent
 * history that fits. The oldest non-system messages are left out first (never deleted), and
 * the kept history starts at a user message, so that no answer or tool result is forwarded
 * without what it answers.
 */
export function selectHistoryWindow(
  prior: StoredMessage[],
  turn: StoredMessage[],
  budget: number,
): HistoryWindow {
  const eligible = prior.filter(isForwardable);
  const system = eligible.filter((m) => m.role === 'system');
  const rest = eligible.filter((m) => m.role !== 'system');
  const fixed = [...system, ...turn].reduce((sum, m) => sum + m.tokenEstimate, 0);
  let used = fixed;
  let start = rest.length;
  while (start > 0 && used + rest[start - 1].tokenEstimate <= budget) {
    used += rest[start - 1].tokenEstimate;
    start -= 1;
  }
  if (start > 0) {
    while (start < rest.length && rest[start].role !== 'user') {
      start += 1;
    }
  }
  return { messages: [...system, ...rest.slice(start), ...turn], omitted: start };
}
