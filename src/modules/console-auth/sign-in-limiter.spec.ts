import { SignInLimiter } from 'src/modules/console-auth/sign-in-limiter';

describe(SignInLimiter.name, () => {
  let now: number;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('allows ten attempts in any minute, however slowly they come, and refuses the eleventh', () => {
    const limiter = new SignInLimiter(10, clock);
    for (let i = 0; i < 10; i++) {
      expect(limiter.attempt('10.0.0.1')).toBe(0);
      now += 5_000; // 45 s for ten attempts: a refilling bucket would have let more through
    }
    expect(limiter.attempt('10.0.0.1')).toBe(10); // the first attempt leaves the window in 10 s
    expect(limiter.attempt('10.0.0.2')).toBe(0);
    now += 10_000;
    expect(limiter.attempt('10.0.0.1')).toBe(0);
    expect(limiter.attempt('10.0.0.1')).toBeGreaterThan(0);
  });

  it('does not count refused attempts: waiting out the minute is enough', () => {
    const limiter = new SignInLimiter(2, clock);
    limiter.attempt('a');
    limiter.attempt('a');
    for (let i = 0; i < 100; i++) {
      expect(limiter.attempt('a')).toBe(60);
    }
    now += 60_000;
    expect(limiter.attempt('a')).toBe(0);
  });

  it('stays bounded under a flood of addresses', () => {
    const limiter = new SignInLimiter(10, clock, 100);
    for (let i = 0; i < 1_000; i++) {
      limiter.attempt(`addr-${i}`);
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});
