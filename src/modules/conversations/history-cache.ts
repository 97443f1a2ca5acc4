import { Injectable } from '@nestjs/common';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { ChainLink, History } from 'src/modules/conversations/history-chain';

/** Default budget in bytes (HISTORY_CACHE_BYTES sets it; see src/config/env.schema.ts). */
export const DEFAULT_HISTORY_CACHE_BYTES = 32 * 1024 * 1024;
const MESSAGE_OVERHEAD_BYTES = 256;
/** An eviction frees down to this share of the budget, so it runs once per many turns. */
const EVICT_TO = 0.75;

interface Entry {
  link: ChainLink;
  weight: number;
  /** The last `get`/`set` that ended at (or went through) this message. */
  usedAt: number;
}

/**
 * The messages of recently finished turns, each stored once and linked to its parent
 * (`ChainLink`), so that a turn does not re-read a long history from the database: the next
 * turn of a busy conversation, and the first turn of a fork of it (forks share their history,
 * and a chain is found through its head, not by the conversation), find their chain in memory.
 *
 * Correct across instances and restarts because a message of a finished turn never changes:
 * its content is written once and its status is final when its turn ends, and only finished
 * chains are stored (the running turn's messages are never part of one). A chain is returned
 * only when every message from the head to the root is held; otherwise (another instance
 * served the conversation, a restart, an eviction) the caller reads it from the database.
 * Messages holding images or other media are not kept (chains through them are read from the
 * database); the rest is bounded by HISTORY_CACHE_BYTES (every string a message holds + a fixed
 * overhead per message).
 *
 * A turn costs the same however long its history: `get` hands out the head's link, which is
 * the whole chain with its summary (`ChainSummary`: tokens, whether it can go whole), and
 * `set` adds only the links after the deepest one already held. Only the head is marked used;
 * eviction first carries each message's last use up to its ancestors, so shared history is
 * never older than its leaves and goes after them. That is why this is not `lru-cache`: its
 * recency is per entry, and keeping ancestors younger than their descendants there would mean
 * touching the whole chain on every read, the walk this cache exists to avoid.
 */
@Injectable()
export class HistoryCache {
  private readonly entries = new Map<string, Entry>();
  private weight = 0;
  private clock = 0;

  constructor(private readonly maxBytes: number = DEFAULT_HISTORY_CACHE_BYTES) {}

  /**
   * The chain ending at `headId`, or undefined when any of it is not held. Links are shared
   * with later callers: read them, never change them.
   */
  get(headId: string | null): ChainLink | undefined {
    const head = headId ? this.entries.get(headId) : undefined;
    if (!head) {
      return undefined;
    }
    head.usedAt = ++this.clock;
    return head.link;
  }

  /**
   * Keeps the chain ending at `head` (a finished turn's: the history it extended, linked with
   * its messages). Links of messages already held are not stored twice: the first new link is
   * re-pointed to the held one.
   */
  set(head: History): void {
    if (this.maxBytes === 0 || head === null) {
      return;
    }
    const now = ++this.clock;
    // Usually all but the last few messages are held already (the chain came from `get`).
    const added: ChainLink[] = [];
    let link: History = head;
    let held: Entry | undefined;
    while (link !== null) {
      held = this.entries.get(link.message.id);
      if (held) {
        break;
      }
      added.push(link);
      link = link.parent;
    }
    if (held && held.link !== link && added.length > 0) {
      added[added.length - 1].parent = held.link;
    }
    if (!held && added.length > 0 && added[added.length - 1].message.parentId !== null) {
      return; // not a whole chain, and none of it held: nothing to link it to
    }
    for (let i = added.length - 1; i >= 0; i--) {
      const weight = weigh(added[i].message);
      if (weight === null) {
        break; // media: neither it nor what follows it is kept
      }
      this.entries.set(added[i].message.id, { link: added[i], weight, usedAt: now });
      this.weight += weight;
    }
    const entry = this.entries.get(head.message.id);
    if (entry) {
      entry.usedAt = now;
    }
    if (this.weight > this.maxBytes) {
      this.evict();
    }
  }

  /** Messages held. */
  get size(): number {
    return this.entries.size;
  }

  private evict() {
    const target = this.maxBytes * EVICT_TO;
    const deepestFirst = [...this.entries.values()].sort((a, b) => b.link.depth - a.link.depth);
    // A message counts as used whenever a descendant was: shared history is never older than
    // its leaves.
    for (const entry of deepestFirst) {
      const parent = entry.link.parent && this.entries.get(entry.link.parent.message.id);
      if (parent && parent.usedAt < entry.usedAt) {
        parent.usedAt = entry.usedAt;
      }
    }
    // Least recently used first; among messages last used together (one chain), the deepest.
    // A message therefore goes after its descendants: what stays is always whole chains.
    const oldestFirst = deepestFirst.sort(
      (a, b) => a.usedAt - b.usedAt || b.link.depth - a.link.depth,
    );
    for (const entry of oldestFirst) {
      if (this.weight <= target) {
        break;
      }
      this.entries.delete(entry.link.message.id);
      this.weight -= entry.weight;
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
