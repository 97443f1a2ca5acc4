import { StoredMessage } from 'src/modules/conversations/conversation.types';

/** Completed and incomplete messages are context; failed (and pending) ones never are. */
export function isForwardable(m: StoredMessage): boolean {
  return m.status === 'completed' || m.status === 'incomplete';
}

/**
 * What choosing a window needs to know of a whole chain, built message by message as the
 * chain is linked, so that a turn on a long history does not walk it.
 */
export interface ChainSummary {
  /** Tokens of all its messages. */
  tokens: number;
  /** Every message is forwardable, and no system message follows another kind. */
  isPlain: boolean;
  hasNonSystem: boolean;
}

/**
 * The OpenAI rendering of a whole chain: the JSON of its messages without brackets, in UTF-8,
 * in pieces shared with the rope of its parent (see `openai-prompt.ts`).
 */
export interface OpenAIRope {
  pieces: readonly Buffer[];
  /** Sum of the pieces' lengths. */
  bytes: number;
}

/**
 * A stored history as a linked list, oldest message at the root: a link is the chain from the
 * root to its message, so a turn is handed its whole history as one object, and the next
 * turn's history is this one plus a link per new message (nothing copied). Forks share the
 * links of the history they were forked from. The history cache holds links; a history read
 * from the database is linked once per turn.
 *
 * Whatever a turn would otherwise recompute over the whole history is kept on the link of its
 * last message: the chain's `summary` (tokens, whether it goes whole) and its OpenAI rendering
 * (`rope`, set and cleared by `RenderedWindows`, which counts its bytes).
 */
export class ChainLink {
  readonly depth: number;
  readonly summary: ChainSummary;
  /** The OpenAI rendering of the chain, while `RenderedWindows` keeps it. */
  rope: OpenAIRope | null = null;

  constructor(
    readonly message: StoredMessage,
    /**
     * The link of the message before; only the history cache re-points it, to the link it
     * already holds for the same stored message (the same content).
     */
    public parent: ChainLink | null,
  ) {
    this.depth = parent ? parent.depth + 1 : 0;
    this.summary = summariseNext(parent?.summary ?? null, message);
  }
}

/** A stored history: the link of its last message, or null when it holds none. */
export type History = ChainLink | null;

/** `messages` (oldest first, each the parent of the next) linked after `parent`. */
export function linkChain(messages: readonly StoredMessage[], parent: History = null): History {
  let head = parent;
  for (const message of messages) {
    head = new ChainLink(message, head);
  }
  return head;
}

/** Messages of `history`. */
export function historyLength(history: History): number {
  return history ? history.depth + 1 : 0;
}

/** The messages of `history`, oldest first: a walk over the chain, for the paths that need all. */
export function historyMessages(history: History): StoredMessage[] {
  const messages = new Array<StoredMessage>(historyLength(history));
  for (let link = history; link !== null; link = link.parent) {
    messages[link.depth] = link.message;
  }
  return messages;
}

/** The summary of a chain that ends with `message`, from the one of the chain before it. */
function summariseNext(before: ChainSummary | null, message: StoredMessage): ChainSummary {
  const isSystem = message.role === 'system';
  return {
    tokens: (before?.tokens ?? 0) + message.tokenEstimate,
    isPlain:
      (before?.isPlain ?? true) &&
      isForwardable(message) &&
      !(isSystem && (before?.hasNonSystem ?? false)),
    hasNonSystem: (before?.hasNonSystem ?? false) || !isSystem,
  };
}
