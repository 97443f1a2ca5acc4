import fc from 'fast-check';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import {
  MAX_WAIT_SECONDS,
  paramsFromLimits,
  refillMsFor,
  TOKEN,
} from 'src/modules/throttling/buckets/token-bucket';
import { Scenario, scenarioArb } from 'test/support/bucket-scenarios';

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

interface Decision {
  at: number;
  allowed: boolean;
}

function run({ steps, milliRate, burst }: Scenario): Decision[] {
  const clock = manualClock();
  const store = new MemoryBucketStore({ clock: clock.now, sweepIntervalMs: 0 });
  const p = paramsFromLimits({ perSecond: milliRate / 1000, burst });
  const decisions: Decision[] = [];
  for (const step of steps) {
    clock.advance(step.waitMs);
    for (let i = 0; i < step.requests; i++) {
      decisions.push({ at: clock.now(), allowed: store.take('k', p).allowed });
    }
  }
  return decisions;
}

/**
 * What an ideal bucket of `burst` refilling at `milliRate`/1000 per second may admit, in exact
 * integer arithmetic (µ-tokens): `count` admissions within [s, t] are allowed iff
 * count × 1e6 ≤ burst × 1e6 + milliRate × (t − s) for every s.
 */
function fits(count: number, from: number, to: number, milliRate: number, burst: number) {
  return (
    BigInt(count) * BigInt(TOKEN) <=
    BigInt(burst) * BigInt(TOKEN) + BigInt(milliRate) * BigInt(to - from)
  );
}

describe(MemoryBucketStore.name, () => {
  it('never admits more than burst + rate × elapsed, over the whole run and every window', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const { milliRate, burst } = scenario;
        const admitted = run(scenario)
          .filter((d) => d.allowed)
          .map((d) => d.at);
        let violation: number[] | null = null;
        for (let i = 0; i < admitted.length && !violation; i++) {
          for (let j = i; j < admitted.length && !violation; j++) {
            // Admissions i..j happened within [admitted[i], admitted[j]].
            if (!fits(j - i + 1, admitted[i], admitted[j], milliRate, burst)) {
              violation = [j - i + 1, admitted[j] - admitted[i]];
            }
          }
        }
        expect(violation).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('never refuses while a token remains: every refusal would have broken the bound', () => {
    fc.assert(
      fc.property(scenarioArb, (scenario) => {
        const { milliRate, burst } = scenario;
        const admittedAt: number[] = [];
        for (const d of run(scenario)) {
          // Admitting this request would break the bound for some window ending now, i.e. the
          // ideal bucket was empty. Windows start at an earlier admission or now.
          const wouldBreak = [...admittedAt, d.at].some((from) => {
            const inWindow = admittedAt.filter((t) => t >= from).length;
            return !fits(inWindow + 1, from, d.at, milliRate, burst);
          });
          expect({ at: d.at, allowed: d.allowed }).toEqual({ at: d.at, allowed: !wouldBreak });
          if (d.allowed) {
            admittedAt.push(d.at);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports limit, remaining, seconds to full and a retry-after of at least one second', async () => {
    const clock = manualClock();
    const store = new MemoryBucketStore({ clock: clock.now, sweepIntervalMs: 0 });
    const limits = { perSecond: 0.5, burst: 3 };
    const ttl = refillMsFor(limits);
    const records = [];
    for (let i = 0; i < 4; i++) {
      records.push(await store.increment('k', ttl, limits.burst));
    }
    expect(records.map((r) => [3 - r.totalHits, r.timeToExpire, r.isBlocked])).toEqual([
      [2, 2, false],
      [1, 4, false],
      [0, 6, false],
      [0, 6, true],
    ]);
    expect(records[3].timeToBlockExpire).toBe(2);
    clock.advance(1_999);
    expect((await store.increment('k', ttl, limits.burst)).isBlocked).toBe(true);
    clock.advance(1);
    expect((await store.increment('k', ttl, limits.burst)).isBlocked).toBe(false);
  });

  it('waits are whole seconds, never 0 on refusal, and capped when the bucket never refills', async () => {
    const clock = manualClock();
    const store = new MemoryBucketStore({ clock: clock.now, sweepIntervalMs: 0 });
    const fast = { perSecond: 1000, burst: 1 };
    await store.increment('fast', refillMsFor(fast), 1);
    const refused = await store.increment('fast', refillMsFor(fast), 1);
    expect(refused).toMatchObject({ isBlocked: true, timeToBlockExpire: 1, timeToExpire: 1 });
    const none = { perSecond: 0, burst: 2 };
    await store.increment('none', refillMsFor(none), 2);
    await store.increment('none', refillMsFor(none), 2);
    expect(await store.increment('none', refillMsFor(none), 2)).toEqual({
      totalHits: 2,
      timeToExpire: MAX_WAIT_SECONDS,
      isBlocked: true,
      timeToBlockExpire: MAX_WAIT_SECONDS,
    });
  });

  it('keeps buckets apart by key', () => {
    const store = new MemoryBucketStore({ sweepIntervalMs: 0 });
    const p = paramsFromLimits({ perSecond: 0, burst: 1 });
    expect(store.take('a', p).allowed).toBe(true);
    expect(store.take('a', p).allowed).toBe(false);
    expect(store.take('b', p).allowed).toBe(true);
  });

  it('applies a lowered burst at once to a bucket that held more', () => {
    const store = new MemoryBucketStore({ sweepIntervalMs: 0 });
    store.take('k', paramsFromLimits({ perSecond: 0, burst: 10 }));
    const small = paramsFromLimits({ perSecond: 0, burst: 2 });
    expect([1, 2, 3].map(() => store.take('k', small).allowed)).toEqual([true, true, false]);
  });

  it('evicts only buckets that have refilled completely when it sweeps', () => {
    const clock = manualClock();
    const store = new MemoryBucketStore({ clock: clock.now, sweepIntervalMs: 0 });
    const refilling = paramsFromLimits({ perSecond: 1, burst: 5 });
    const never = paramsFromLimits({ perSecond: 0, burst: 5 });
    store.take('refilling', refilling);
    store.take('never', never);
    clock.advance(999);
    store.sweep();
    expect(store.size).toBe(2);
    clock.advance(1);
    store.sweep();
    expect(store.size).toBe(1);
    expect(store.take('never', never)).toEqual({ allowed: true, tokens: 3 * TOKEN });
  });

  it('stays within maxBuckets, dropping the oldest busy buckets when it must', () => {
    const store = new MemoryBucketStore({ maxBuckets: 100, sweepIntervalMs: 0 });
    const p = paramsFromLimits({ perSecond: 0, burst: 5 });
    for (let i = 0; i < 1_000; i++) {
      store.take(`k${i}`, p);
      expect(store.size).toBeLessThanOrEqual(100);
    }
    expect(store.take('k999', p).tokens).toBe(3 * TOKEN);
  });
});
