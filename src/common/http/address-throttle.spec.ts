import { AddressThrottle } from 'src/common/http/address-throttle';

describe(AddressThrottle.name, () => {
  let now = 0;
  const clock = () => now;

  it('allows a burst, then one request per refill, per address', () => {
    const throttle = new AddressThrottle(1, 3, clock);
    expect([1, 2, 3].map(() => throttle.take('a'))).toEqual([0, 0, 0]);
    expect(throttle.take('a')).toBe(1);
    expect(throttle.take('b')).toBe(0);
    now += 1_000;
    expect(throttle.take('a')).toBe(0);
    expect(throttle.take('a')).toBe(1);
  });

  it('counts one IPv6 /64 as one address', () => {
    const throttle = new AddressThrottle(1, 2, clock);
    expect(throttle.take('2001:db8:1:2::1')).toBe(0);
    expect(throttle.take('2001:db8:1:2::2')).toBe(0);
    expect(throttle.take('2001:db8:1:2::3')).toBeGreaterThan(0);
  });

  it('stays within its bound', () => {
    const throttle = new AddressThrottle(1, 1, clock, 10);
    for (let i = 0; i < 1_000; i++) {
      throttle.take(`10.0.0.${i % 250}-${i}`);
    }
    expect((throttle as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(10);
  });
});
