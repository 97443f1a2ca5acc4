import { randomUUID } from 'node:crypto';

/**
 * A key for a new row: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds then random
 * bits, so keys made later sort later. Rows keyed this way land at the right end of their
 * indexes, and the rows one group commit writes share B-tree pages; with random (version 4)
 * keys each row dirtied pages of its own in every index on an id, and the commit wrote each of
 * them to the WAL (a transaction's cost grew with its rows, not with its pages).
 * Random enough to be unguessable (74 random bits); reveals when the row was made,
 * which the API returns anyway (`created_at`).
 */
export function newRowId(now: number): string {
  const time = now.toString(16).padStart(12, '0');
  // randomUUID is `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`: keep its random bits after the version.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}
