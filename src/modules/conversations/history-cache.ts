import { Injectable } from '@nestjs/common';
import { StoredMessage } from 'src/modules/conversations/conversation.types';

/** Default budget in bytes (HISTORY_CACHE_BYTES sets it; see src/config/env.schema.ts). */
export const DEFAULT_HISTORY_CACHE_BYTES = 32 * 1024 * 1024;
const MESSAGE_OVERHEAD_BYTES = 256;
/** An eviction frees down to this share of the budget, so it runs once per many turns. */
const EVICT_TO = 0.75;

interface Node {
  message: StoredMessage;
  weight: number;
  /** The last `get`/`set` that went through this message: least recently used goes first. */
  usedAt: number;
  /** The parent's node once looked up (walking pointers beats hashing 2,000 ids per turn). */
  parent: Node | null;
  isEvicted: boolean;
}

/**
 * The messages of recently finished turns, each stored once and linked to its parent, so that
 * a turn does not re-read a long history from the database: the next turn of a busy
 * conversation, and the first turn of a fork of it (forks share their history, and a chain is
 * walked through the messages, not looked up by its head), find their chain in memory.
 *
 * Correct across instances and restarts because a message of a finished turn never changes:
 * its content is written once and its status is final when its turn ends, and only finished
 * chains are stored (the running turn's messages are never part of one). A chain is returned
 * only when every message from the head to the root is held; otherwise (another instance
 * served the conversation, a restart, an eviction) the caller reads it from the database.
 * Messages holding images or other media are not kept (chains through them are read from the
 * database); the rest is bounded by HISTORY_CACHE_BYTES (every string a message holds + a fixed
 * overhead per message), least recently used first. Walking a chain marks every message on it used, so a
 * message is never older than its descendants and eviction takes leaves before shared history.
 */
@Injectable()
export class HistoryCache {
  private readonly nodes = new Map<string, Node>();
  private weight = 0;
  private clock = 0;

  constructor(private readonly maxBytes: number = DEFAULT_HISTORY_CACHE_BYTES) {}

  /** The chain ending at `headId`, oldest first, or undefined when any of it is not held. */
  get(headId: string | null): StoredMessage[] | undefined {
    const head = headId ? this.nodes.get(headId) : undefined;
    if (!head) {
      return undefined;
    }
    const now = ++this.clock;
    const chain: StoredMessage[] = [];
    for (let node: Node | null = head; node !== null; node = this.parentOf(node)) {
      node.usedAt = now;
      chain.push(node.message);
      if (node.message.parentId === null) {
        return chain.reverse();
      }
    }
    return undefined;
  }

  /** Keeps the messages of a finished chain (root first, each the parent of the next). */
  set(chain: readonly StoredMessage[]): void {
    if (this.maxBytes === 0) {
      return;
    }
    const now = ++this.clock;
    // Usually all but the last few messages are held already (the chain came from `get`):
    // walk those through the parent links and add only the new ones.
    let held = chain.length - 1;
    while (held >= 0 && !this.nodes.has(chain[held].id)) {
      held--;
    }
    let parent = held >= 0 ? this.touchHeld(chain, held, now) : null;
    for (let i = parent ? held + 1 : 0; i < chain.length; i++) {
      const message = chain[i];
      let node = this.nodes.get(message.id);
      if (node) {
        node.usedAt = now;
        node.parent ??= parent;
      } else {
        const weight = weigh(message);
        if (weight === null) {
          parent = null;
          continue;
        }
        node = { message, weight, usedAt: now, parent, isEvicted: false };
        this.nodes.set(message.id, node);
        this.weight += weight;
      }
      parent = node;
    }
    if (this.weight > this.maxBytes) {
      this.evict();
    }
  }

  /** Messages held. */
  get size(): number {
    return this.nodes.size;
  }

  /**
   * Marks `chain[0..held]` used when the node of `chain[held]` leads through its parents to
   * the root with exactly those messages; returns that node, or null (then `set` walks the
   * whole chain).
   */
  private touchHeld(chain: readonly StoredMessage[], held: number, now: number): Node | null {
    const top = this.nodes.get(chain[held].id) ?? null;
    let node = top;
    for (let i = held; i >= 0; i--) {
      if (node === null || node.message.id !== chain[i].id) {
        return null;
      }
      node.usedAt = now;
      node = i > 0 ? this.parentOf(node) : null;
    }
    return top;
  }

  /** The parent's node, linked on first use; null when it is not held (or at the root). */
  private parentOf(node: Node): Node | null {
    const parentId = node.message.parentId;
    if (parentId === null) {
      return null;
    }
    if (node.parent === null || node.parent.isEvicted) {
      node.parent = this.nodes.get(parentId) ?? null;
    }
    return node.parent;
  }

  private evict() {
    // Among messages last used together (one chain), the deepest go first.
    const oldestFirst = [...this.nodes].sort(
      ([, a], [, b]) => a.usedAt - b.usedAt || b.message.depth - a.message.depth,
    );
    for (const [id, node] of oldestFirst) {
      if (this.weight <= this.maxBytes * EVICT_TO) {
        break;
      }
      this.nodes.delete(id);
      this.weight -= node.weight;
      node.isEvicted = true;
      node.parent = null;
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
