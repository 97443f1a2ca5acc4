import { periodWindow, UtcDays } from 'src/modules/usage/usage-period';

describe(UtcDays.name, () => {
  it('gives the UTC day of each moment, also when consecutive calls cross midnight', () => {
    const days = new UtcDays();
    const midnight = Date.UTC(2026, 11, 4);
    expect(days.dayOf(midnight - 1)).toBe('2026-12-03');
    expect(days.dayOf(midnight)).toBe('2026-12-04');
    expect(days.dayOf(midnight + 12 * 3600_000)).toBe('2026-12-04');
    expect(days.dayOf(midnight + 24 * 3600_000 - 1)).toBe('2026-12-04');
    expect(days.dayOf(midnight + 24 * 3600_000)).toBe('2026-12-05');
    expect(days.dayOf(midnight - 1)).toBe('2026-12-03');
    expect(days.dayOf(Date.UTC(1999, 0, 1, 23, 59))).toBe('1999-01-01');
  });

  it('gives the same quota windows as computing them afresh, on either side of a month end', () => {
    const days = new UtcDays();
    const monthEnd = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    for (const ms of [monthEnd, monthEnd + 1, monthEnd, Date.UTC(2027, 1, 28, 12)]) {
      for (const period of ['day', 'month', 'total'] as const) {
        expect(days.windowOf(period, ms)).toEqual(periodWindow(period, ms));
      }
    }
    expect(days.windowOf('month', monthEnd + 1)).toMatchObject({
      key: '2027-01',
      resetsAt: Date.UTC(2027, 1, 1),
    });
  });
});
