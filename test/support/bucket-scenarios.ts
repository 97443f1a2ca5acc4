import fc from 'fast-check';

/** Rate in thousandths of a request per second (0 = no refill), so it is exact. */
const milliRateArb = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 5_000 }),
);
const burstArb = fc.integer({ min: 1, max: 40 });

export interface Scenario {
  milliRate: number;
  burst: number;
  /** Wait `waitMs`, then send `requests` requests in the same millisecond. */
  steps: { waitMs: number; requests: number }[];
}

/**
 * Waits are random, or land within a few milliseconds of the moment k tokens are back: that is
 * where an off-by-a-fraction bucket would admit one request too early (or refuse one too long).
 */
export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .tuple(milliRateArb, burstArb)
  .chain(([milliRate, burst]) => {
    const nearRefill = fc
      .record({
        tokens: fc.integer({ min: 1, max: burst }),
        offset: fc.integer({ min: -2, max: 2 }),
      })
      .map(({ tokens, offset }) =>
        milliRate > 0
          ? Math.max(0, Math.ceil((tokens * 1_000_000) / milliRate) + offset)
          : offset + 2,
      );
    const waitArb = fc.oneof(fc.integer({ min: 0, max: 3_000 }), nearRefill);
    const steps = fc.array(
      fc.record({ waitMs: waitArb, requests: fc.integer({ min: 1, max: 6 }) }),
      { minLength: 1, maxLength: 60 },
    );
    return steps.map((s) => ({ milliRate, burst, steps: s }));
  });
