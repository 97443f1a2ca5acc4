import { Injectable } from '@nestjs/common';
import { StoredMessage } from 'src/modules/conversations/conversation.types';

/** Bytes of history kept in memory per gateway process. */
export const HISTORY_CACHE_BYTES = 32 * 1024 * 1024;
const MESSAGE_OVERHEAD_BYTES = 256;

/**
 * The history chains of recently finished turns, keyed by their last message id, so that the
 * next turn of a busy conversation does not re-read a long history from the database (the
 * recursive read costs a few microseconds per stored message; this makes a turn's database
 * work independent of the history's length).
 *
 * Correct across instances and restarts because a chain ending at a finished turn never
 * changes: a message's content is written once, and its status is final when its turn ends
 * (only the running turn's messages change, and they are never part of a cached chain). A
 * miss (another instance served the last turn, a fork, a restart) reads from the database.
 * Chains holding images or other media are not cached; the rest is bounded by
 * HISTORY_CACHE_BYTES (text length + a fixed overhead per message), least recently used first.
 */
@Injectable()
export class HistoryCache {
  private readonly chains = new Map<string, { chain: StoredMessage[]; weight: number }>();
  private weight = 0;

  constructor(private readonly maxBytes: number = HISTORY_CACHE_BYTES) {}

  get(headId: string | null): StoredMessage[] | undefined {
    if (!headId) {
      return undefined;
    }
    const entry = this.chains.get(headId);
    if (entry) {
      this.chains.delete(headId);
      this.chains.set(headId, entry);
    }
    return entry?.chain;
  }

  /** Stores the chain ending at `headId` and forgets the one it extends (`previousHeadId`). */
  set(headId: string, chain: StoredMessage[], previousHeadId: string | null = null): void {
    if (previousHeadId) {
      this.delete(previousHeadId);
    }
    const weight = weigh(chain);
    if (weight === null || weight > this.maxBytes / 4) {
      return;
    }
    this.delete(headId);
    this.chains.set(headId, { chain, weight });
    this.weight += weight;
    for (const [key, entry] of this.chains) {
      if (this.weight <= this.maxBytes) {
        break;
      }
      this.chains.delete(key);
      this.weight -= entry.weight;
    }
  }

  get size(): number {
    return this.chains.size;
  }

  private delete(headId: string) {
    const entry = this.chains.get(headId);
    if (entry) {
      this.chains.delete(headId);
      this.weight -= entry.weight;
    }
  }
}

/** Approximate bytes of a chain, or null when it holds media (not cached). */
function weigh(chain: StoredMessage[]): number | null {
  let total = 0;
  for (const message of chain) {
    total += MESSAGE_OVERHEAD_BYTES;
    for (const part of message.parts) {
      switch (part.type) {
        case 'text':
        case 'reasoning':
          total += part.text.length * 2;
          break;
        case 'tool_call':
          total += (part.name.length + part.arguments.length) * 2;
          break;
        case 'tool_result':
          total += part.content.length * 2;
          break;
        case 'image':
        case 'media':
          return null;
      }
    }
  }
  return total;
}
