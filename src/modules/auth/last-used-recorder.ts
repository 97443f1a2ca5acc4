export interface LastUsedWriter {
  touchLastUsed(ids: readonly string[], at: number): Promise<void>;
}

/**
 * Keeps `last_used_at` roughly current without a write per request: a key is marked at most
 * once per `everyMs` (a minute) by this process, and marked keys are written in one batch by
 * `flush()`, which the module calls on a timer and at shutdown, never on the request path.
 */
export class LastUsedRecorder {
  /** When this process last marked each key. */
  private readonly marked = new Map<string, number>();
  private pending = new Set<string>();

  constructor(
    private readonly writer: LastUsedWriter,
    private readonly now: () => number,
    private readonly onError: (error: unknown) => void,
    private readonly everyMs = 60_000,
  ) {}

  /** Called on every authenticated request: a map lookup, nothing more, in the common case. */
  touch(keyId: string): void {
    const now = this.now();
    const last = this.marked.get(keyId);
    if (last !== undefined && now - last < this.everyMs) {
      return;
    }
    this.marked.set(keyId, now);
    this.pending.add(keyId);
  }

  /** Writes the keys marked since the last flush. Never throws. */
  async flush(): Promise<void> {
    const now = this.now();
    for (const [id, at] of this.marked) {
      if (now - at >= this.everyMs) {
        this.marked.delete(id);
      }
    }
    if (this.pending.size === 0) {
      return;
    }
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await this.writer.touchLastUsed(ids, now);
    } catch (error) {
      this.onError(error);
    }
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
