import { AuthFailureLimiter } from 'src/modules/auth/auth-failure-limiter';

describe(AuthFailureLimiter.name, () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('allows perMinute failures, then asks to wait until one is refilled', () => {
    const limiter = new AuthFailureLimiter(3, clock);
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterSeconds('1.2.3.4')).toBe(0);
      limiter.recordFailure('1.2.3.4');
    }
    // One failure comes back every 20 s.
    expect(limiter.retryAfterSeconds('1.2.3.4')).toBe(20);
    now += 15_000;
    expect(limiter.retryAfterSeconds('1.2.3.4')).toBe(5);
    now += 5_000;
    expect(limiter.retryAfterSeconds('1.2.3.4')).toBe(0);
  });

  it('keeps addresses apart', () => {
    const limiter = new AuthFailureLimiter(1, clock);
    limiter.recordFailure('a');
    expect(limiter.retryAfterSeconds('a')).toBeGreaterThan(0);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
  });

  it('never answers 0 seconds while throttled', () => {
    const limiter = new AuthFailureLimiter(600_000, clock);
    for (let i = 0; i < 600_000; i++) {
      limiter.recordFailure('a');
    }
    expect(limiter.retryAfterSeconds('a')).toBe(1);
  });

  it('stays within its bound, dropping recovered addresses first', () => {
    const limiter = new AuthFailureLimiter(2, clock, 100);
    for (let i = 0; i < 100; i++) {
      limiter.recordFailure(`old-${i}`);
    }
    now += 60_000; // every old address has recovered its whole budget
    limiter.recordFailure('attacker');
    limiter.recordFailure('attacker');
    expect(limiter.size).toBe(1);
    expect(limiter.retryAfterSeconds('attacker')).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) {
      limiter.recordFailure(`flood-${i}`);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
  });
});
