import { AffinityMemory } from 'src/modules/fleet/routing/affinity-memory';

describe(AffinityMemory.name, () => {
  it('forgets the oldest conversation past its capacity', () => {
    const memory = new AffinityMemory(2);
    memory.remember('a', 'u0');
    memory.remember('b', 'u1');
    memory.remember('a', 'u2');
    memory.remember('c', 'u0');
    expect([memory.homeOf('a'), memory.homeOf('b'), memory.homeOf('c')]).toEqual([
      undefined,
      'u1',
      'u0',
    ]);
    expect(memory.size).toBe(2);
  });
});
