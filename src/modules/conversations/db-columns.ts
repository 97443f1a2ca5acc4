import { ValueTransformer } from 'typeorm';

/**
 * Epoch milliseconds stored as `bigint` on both drivers. `pg` returns BIGINT as a string (it
 * may exceed 2^53); timestamps never do, so they are read back as numbers.
 */
export const EPOCH_MS: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
