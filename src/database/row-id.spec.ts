import { newRowId } from 'src/database/row-id';

describe(newRowId.name, () => {
  it('is a version 7 UUID carrying the time, so later ids sort after earlier ones', () => {
    const id = newRowId(Date.UTC(2026, 11, 4, 23, 0, 0));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2026, 11, 4, 23, 0, 0));
    const ids = [1, 2, 3, 1000, 10_000].map((ms) => newRowId(Date.UTC(2026, 0, 1) + ms));
    expect([...ids].sort()).toEqual(ids);
  });

  it('differs within one millisecond', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRowId(1)));
    expect(ids.size).toBe(1000);
  });
});
