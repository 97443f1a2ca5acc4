import { DataSource, EntityManager } from 'typeorm';
import { inTransaction } from 'src/database/serial-transactions';

interface Unit {
  work: (manager: EntityManager) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

interface Committer {
  /** Units waiting for the next transaction. */
  pending: Unit[];
  /** A transaction of this data source's units is running: the next waits for it. */
  isFlushing: boolean;
  isScheduled: boolean;
}

const committers = new WeakMap<DataSource, Committer>();

/**
 * Group commit: runs `work` in a transaction shared with the other units submitted in the
 * same event-loop turn (or while the previous group was being written), and resolves only once
 * that transaction has committed. For the writes every /c1 turn makes (start, finish, fail):
 * one BEGIN/COMMIT (and on PostgreSQL one pooled connection, one WAL flush) for many turns,
 * with each caller still acknowledged after its own rows are durable.
 *
 * Units run one after the other in submission order and see each other's writes, as if they
 * had been committed in that order. When any unit throws (a refusal such as
 * `conversation_busy`, or a database failure), the whole group is rolled back and every unit
 * runs again alone in its own transaction, so each gets exactly the outcome it would have had
 * without grouping, and nothing of a refused unit is kept. `work` must therefore be database
 * work only, safe to run twice (no side effects outside the transaction).
 */
export function inGroupCommit<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  let committer = committers.get(dataSource);
  if (!committer) {
    committer = { pending: [], isFlushing: false, isScheduled: false };
    committers.set(dataSource, committer);
  }
  const target = committer;
  return new Promise<T>((resolve, reject) => {
    target.pending.push({ work, resolve: resolve, reject });
    schedule(dataSource, target);
  });
}

function schedule(dataSource: DataSource, committer: Committer): void {
  if (committer.isFlushing || committer.isScheduled) {
    return;
  }
  committer.isScheduled = true;
  // After the current event-loop turn: the other requests parsed in it join this group.
  setImmediate(() => {
    committer.isScheduled = false;
    void flush(dataSource, committer);
  });
}

async function flush(dataSource: DataSource, committer: Committer): Promise<void> {
  const units = committer.pending;
  committer.pending = [];
  if (units.length === 0) {
    return;
  }
  committer.isFlushing = true;
  try {
    if (units.length === 1) {
      await runAlone(dataSource, units[0]);
    } else {
      await runTogether(dataSource, units);
    }
  } finally {
    committer.isFlushing = false;
    if (committer.pending.length > 0) {
      schedule(dataSource, committer);
    }
  }
}

async function runAlone(dataSource: DataSource, unit: Unit): Promise<void> {
  try {
    unit.resolve(await inTransaction(dataSource, unit.work));
  } catch (error) {
    unit.reject(error);
  }
}

async function runTogether(dataSource: DataSource, units: Unit[]): Promise<void> {
  let results: unknown[];
  try {
    results = await inTransaction(dataSource, async (manager) => {
      const values: unknown[] = [];
      for (const unit of units) {
        values.push(await unit.work(manager));
      }
      return values;
    });
  } catch {
    // Nothing of the group was kept: each unit again on its own, so that the one that failed
    // fails alone, with its own error.
    for (const unit of units) {
      await runAlone(dataSource, unit);
    }
    return;
  }
  units.forEach((unit, i) => unit.resolve(results[i]));
}
