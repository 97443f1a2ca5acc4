import { Injectable } from '@nestjs/common';

/** Most events one live turn keeps for reattaching clients (an answer is far shorter). */
const MAX_EVENTS = 100_000;

/** A streamed `/c1` turn still generating: the events sent so far, and who follows them. */
export class LiveTurn {
  readonly events: string[] = [];
  private readonly followers = new Set<() => void>();
  private isEnded = false;

  constructor(readonly turnId: string) {}

  get hasEnded(): boolean {
    return this.isEnded;
  }

  push(text: string): void {
    if (this.isEnded || this.events.length >= MAX_EVENTS) {
      return;
    }
    this.events.push(text);
    this.wake();
  }

  end(): void {
    this.isEnded = true;
    this.wake();
  }

  /** Calls `wake` on every new event and at the end; returns the unsubscribe. */
  follow(wake: () => void): () => void {
    this.followers.add(wake);
    return () => this.followers.delete(wake);
  }

  private wake() {
    for (const wake of this.followers) {
      wake();
    }
  }
}

/**
 * The streamed `/c1` turns generating in this process, by conversation (one turn at a time
 * per conversation), for `GET /c1/conversations/{id}/stream`. A turn is here from its first
 * byte to its end; its events (in the endpoint's format) live as long as it does.
 */
@Injectable()
export class LiveTurns {
  private readonly turns = new Map<string, LiveTurn>();

  start(conversationId: string, turnId: string): LiveTurn {
    const live = new LiveTurn(turnId);
    this.turns.set(conversationId, live);
    return live;
  }

  finish(conversationId: string, live: LiveTurn): void {
    live.end();
    if (this.turns.get(conversationId) === live) {
      this.turns.delete(conversationId);
    }
  }

  get(conversationId: string): LiveTurn | undefined {
    return this.turns.get(conversationId);
  }
}
