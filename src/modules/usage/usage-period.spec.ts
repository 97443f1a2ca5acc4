import { utcDay } from 'src/modules/usage/usage-period';

describe('utcDay', () => {
  it('gives the UTC day of each moment, also when consecutive calls cross midnight', () => {
    const midnight = Date.UTC(2026, 11, 4);
    expect(utcDay(midnight - 1)).toBe('2026-12-03');
    expect(utcDay(midnight)).toBe('2026-12-04');
    expect(utcDay(midnight + 12 * 3600_000)).toBe('2026-12-04');
    expect(utcDay(midnight + 24 * 3600_000 - 1)).toBe('2026-12-04');
    expect(utcDay(midnight + 24 * 3600_000)).toBe('2026-12-05');
    expect(utcDay(midnight - 1)).toBe('2026-12-03');
    expect(utcDay(Date.UTC(1999, 0, 1, 23, 59))).toBe('1999-01-01');
  });
});
