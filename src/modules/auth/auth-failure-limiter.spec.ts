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
    expect(limiter.size).toBe(100);
    expect(limiter.retryAfterSeconds('attacker')).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) {
      limiter.recordFailure(`flood-${i}`);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
    expect(limiter.retryAfterSeconds('attacker')).toBeGreaterThan(0);
  });

  it('never forgets a blocked address, however many others fail after it', () => {
    const limiter = new AuthFailureLimiter(3, clock, 100);
    for (let i = 0; i < 3; i++) {
      limiter.recordFailure('198.51.100.9');
    }
    expect(limiter.retryAfterSeconds('198.51.100.9')).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) {
      limiter.recordFailure(`10.0.${Math.floor(i / 256)}.${i % 256}`);
      expect(limiter.size).toBeLessThanOrEqual(100);
    }
    expect(limiter.retryAfterSeconds('198.51.100.9')).toBeGreaterThan(0);
  });

  it('evicts the least recently used address first', () => {
    const limiter = new AuthFailureLimiter(3, clock, 3);
    limiter.recordFailure('a');
    limiter.recordFailure('b');
    limiter.recordFailure('c');
    limiter.recordFailure('a'); // a is now the most recently used
    limiter.recordFailure('d'); // drops b
    limiter.recordFailure('b');
    limiter.recordFailure('b');
    // b came back with a fresh budget (2 failures left after one), a kept its two failures.
    limiter.recordFailure('a');
    expect(limiter.retryAfterSeconds('a')).toBeGreaterThan(0);
    expect(limiter.retryAfterSeconds('b')).toBe(0);
  });

  it('counts the addresses of one IPv6 /64 together', () => {
    const limiter = new AuthFailureLimiter(3, clock);
    limiter.recordFailure('2001:db8:1:2::1');
    limiter.recordFailure('2001:db8:1:2::2');
    limiter.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff');
    expect(limiter.retryAfterSeconds('2001:db8:1:2::99')).toBeGreaterThan(0);
    expect(limiter.retryAfterSeconds('2001:db8:1:3::1')).toBe(0);
  });
});
