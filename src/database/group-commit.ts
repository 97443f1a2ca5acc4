import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { SerialTransactions } from 'src/database/serial-transactions';

interface Unit {
  work: (manager: EntityManager) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

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
@Injectable()
export class GroupCommit {
  /** Units waiting for the next transaction. */
  private pending: Unit[] = [];
  /** A group's transaction is running: the next waits for it. */
  private isFlushing = false;
  private isScheduled = false;

  constructor(private readonly transactions: SerialTransactions) {}

  run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ work, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.isFlushing || this.isScheduled) {
      return;
    }
    this.isScheduled = true;
    // After the current event-loop turn: the other requests parsed in it join this group.
    setImmediate(() => {
      this.isScheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const units = this.pending;
    this.pending = [];
    if (units.length === 0) {
      return;
    }
    this.isFlushing = true;
    try {
      if (units.length === 1) {
        await this.runAlone(units[0]);
      } else {
        await this.runTogether(units);
      }
    } finally {
      this.isFlushing = false;
      if (this.pending.length > 0) {
        this.schedule();
      }
    }
  }

  private async runAlone(unit: Unit): Promise<void> {
    try {
      unit.resolve(await this.transactions.inTransaction(unit.work));
    } catch (error) {
      unit.reject(error);
    }
  }

  private async runTogether(units: Unit[]): Promise<void> {
    let results: unknown[];
    try {
      results = await this.transactions.inTransaction(async (manager) => {
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
        await this.runAlone(unit);
      }
      return;
    }
    units.forEach((unit, i) => unit.resolve(results[i]));
  }
}
