import { Injectable } from '@nestjs/common';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import {
  ChainSummary,
  rememberSummary,
  summariseNext,
} from 'src/modules/conversations/history-window';

/** Default budget in bytes (HISTORY_CACHE_BYTES sets it; see src/config/env.schema.ts). */
export const DEFAULT_HISTORY_CACHE_BYTES = 32 * 1024 * 1024;
const MESSAGE_OVERHEAD_BYTES = 256;
/** What an array of a whole chain costs per message: one pointer. */
const CHAIN_ENTRY_BYTES = 8;
/** An eviction frees down to this share of the budget, so it runs once per many turns. */
const EVICT_TO = 0.75;

interface Node {
  message: StoredMessage;
  /** Held as long as this node is: eviction takes a node's descendants before it. */
  parent: Node | null;
  depth: number;
  weight: number;
  /** The last `get`/`set` that ended at (or went through) this message. */
  usedAt: number;
  /** The chain from the root to this message, summarised as it was built. */
  summary: ChainSummary;
  /**
   * The chain as an array, kept for a head once built or handed in (counted in `weight`, and
   * dropped before any message is evicted).
   */
  chain: StoredMessage[] | null;
}

/**
 * The messages of recently finished turns, each stored once and linked to its parent, so that
 * a turn does not re-read a long history from the database: the next turn of a busy
 * conversation, and the first turn of a fork of it (forks share their history, and a chain is
 * found through its head, not by the conversation), find their chain in memory.
 *
 * Correct across instances and restarts because a message of a finished turn never changes:
 * its content is written once and its status is final when its turn ends, and only finished
 * chains are stored (the running turn's messages are never part of one). A chain is returned
 * only when every message from the head to the root is held; otherwise (another instance
 * served the conversation, a restart, an eviction) the caller reads it from the database.
 * Messages holding images or other media are not kept (chains through them are read from the
 * database); the rest is bounded by HISTORY_CACHE_BYTES (every string a message holds + a fixed
 * overhead per message, and a pointer per message of each chain array kept).
 *
 * A turn costs the same however long its history: a head keeps its chain as one array (the one
 * `set` was given, or built once by walking the parents), handed out as is with its summary
 * (`ChainSummary`: tokens, whether it can go whole), and `set` adds only the messages after
 * the deepest one already held. Only the head is marked used; eviction first carries each
 * message's last use up to its ancestors, so shared history is never older than its leaves
 * and goes after them. That is why this is not `lru-cache`: its recency is per entry, and
 * keeping ancestors younger than their descendants there would mean touching the whole chain
 * on every read, the walk this cache exists to avoid.
 */
@Injectable()
export class HistoryCache {
  private readonly nodes = new Map<string, Node>();
  private weight = 0;
  private clock = 0;

  constructor(private readonly maxBytes: number = DEFAULT_HISTORY_CACHE_BYTES) {}

  /**
   * The chain ending at `headId`, oldest first, or undefined when any of it is not held. The
   * array is shared with later callers: read it, never change it.
   */
  get(headId: string | null): StoredMessage[] | undefined {
    const head = headId ? this.nodes.get(headId) : undefined;
    if (!head) {
      return undefined;
    }
    head.usedAt = ++this.clock;
    if (!head.chain) {
      const chain: StoredMessage[] = new Array<StoredMessage>(head.depth + 1);
      for (let node: Node | null = head; node !== null; node = node.parent) {
        chain[node.depth] = node.message;
      }
      this.keepChain(head, chain);
    }
    return head.chain!;
  }

  /**
   * Keeps the messages of a finished chain (root first, each the parent of the next), and
   * `chain` itself as the array `get` hands out for its head: the caller must not change it.
   */
  set(chain: StoredMessage[]): void {
    if (this.maxBytes === 0 || chain.length === 0) {
      return;
    }
    const now = ++this.clock;
    // Usually all but the last few messages are held already (the chain came from `get`).
    let held = chain.length - 1;
    while (held >= 0 && !this.nodes.has(chain[held].id)) {
      held--;
    }
    let parent = held >= 0 ? this.nodes.get(chain[held].id)! : null;
    if (!parent && chain[0].parentId !== null) {
      return; // not a whole chain, and none of it held: nothing to link it to
    }
    for (let i = held + 1; i < chain.length; i++) {
      const message = chain[i];
      const weight = weigh(message);
      if (weight === null) {
        return; // media: neither it nor what follows it is kept
      }
      const node: Node = {
        message,
        parent,
        depth: parent ? parent.depth + 1 : 0,
        weight,
        usedAt: now,
        summary: summariseNext(parent?.summary ?? null, message),
        chain: null,
      };
      this.nodes.set(message.id, node);
      this.weight += weight;
      parent = node;
    }
    const head = parent!;
    head.usedAt = now;
    if (!head.chain && chain.length === head.depth + 1) {
      this.keepChain(head, chain);
    }
    if (this.weight > this.maxBytes) {
      this.evict();
    }
  }

  /** Messages held. */
  get size(): number {
    return this.nodes.size;
  }

  private keepChain(head: Node, chain: StoredMessage[]): void {
    head.chain = chain;
    rememberSummary(chain, head.summary);
    const bytes = chain.length * CHAIN_ENTRY_BYTES;
    head.weight += bytes;
    this.weight += bytes;
  }

  private evict() {
    const target = this.maxBytes * EVICT_TO;
    const deepestFirst = [...this.nodes.values()].sort((a, b) => b.depth - a.depth);
    // A node counts as used whenever a descendant was: shared history is never older than
    // its leaves.
    for (const node of deepestFirst) {
      const parent = node.parent;
      if (parent && parent.usedAt < node.usedAt) {
        parent.usedAt = node.usedAt;
      }
    }
    // Chain arrays go first, least recently used first: rebuilding one is a walk over the
    // parents, while an evicted message costs a database read and a new rendering.
    const withChains = deepestFirst.filter((node) => node.chain !== null);
    withChains.sort((a, b) => a.usedAt - b.usedAt);
    for (const node of withChains) {
      if (this.weight <= target) {
        return;
      }
      this.dropChain(node);
    }
    // Then messages, least recently used first; among messages last used together (one
    // chain), the deepest. A node therefore goes after its descendants: what stays is always
    // whole chains.
    const oldestFirst = deepestFirst.sort((a, b) => a.usedAt - b.usedAt || b.depth - a.depth);
    for (const node of oldestFirst) {
      if (this.weight <= target) {
        break;
      }
      this.nodes.delete(node.message.id);
      this.weight -= node.weight;
      node.parent = null;
    }
  }

  private dropChain(node: Node): void {
    if (node.chain) {
      const bytes = node.chain.length * CHAIN_ENTRY_BYTES;
      node.chain = null;
      node.weight -= bytes;
      this.weight -= bytes;
    }
  }
}

/**
 * Approximate bytes of a message (UTF-16: two per character), every string it holds included
 * (name, ids, signatures: #22 item 2, a client controls them all), or null when it holds media
 * (not kept).
 */
function weigh(message: StoredMessage): number | null {
  let chars = (message.name?.length ?? 0) + (message.finishReason?.length ?? 0);
  for (const part of message.parts) {
    switch (part.type) {
      case 'text':
        chars += part.text.length;
        break;
      case 'reasoning':
        chars += part.text.length + (part.signature?.length ?? 0);
        break;
      case 'tool_call':
        chars += part.id.length + part.name.length + part.arguments.length;
        break;
      case 'tool_result':
        chars += part.toolCallId.length + part.content.length;
        break;
      case 'image':
      case 'media':
        return null;
    }
  }
  return MESSAGE_OVERHEAD_BYTES + chars * 2;
}
