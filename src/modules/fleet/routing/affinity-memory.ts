/**
 * Which upstream each recent conversation was sent to first (its "home", where the model server
 * holds its prefix cache). Bounded: past `capacity` entries the oldest conversation is
 * forgotten (its next turn is then placed like a new one). Per process.
 */
export class AffinityMemory {
  private readonly homes = new Map<string, string>();

  constructor(private readonly capacity: number) {}

  homeOf(key: string): string | undefined {
    return this.homes.get(key);
  }

  remember(key: string, upstreamId: string): void {
    if (this.homes.size >= this.capacity && !this.homes.has(key)) {
      const oldest = this.homes.keys().next().value;
      if (oldest !== undefined) {
        this.homes.delete(oldest);
      }
    }
    this.homes.set(key, upstreamId);
  }

  get size(): number {
    return this.homes.size;
  }
}
