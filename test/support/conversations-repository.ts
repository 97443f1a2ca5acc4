import { DataSource } from 'typeorm';
import { Clock } from 'src/common/time/clock';
import { GroupCommit } from 'src/database/group-commit';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { MetricsService } from 'src/modules/metrics/metrics.service';

/** A `ConversationsRepository` on `dataSource`, with the database services wired as the app does. */
export function conversationsRepositoryOn(
  dataSource: DataSource,
  metrics: MetricsService,
  clock?: Clock,
): ConversationsRepository {
  const transactions = new SerialTransactions(dataSource);
  return new ConversationsRepository(
    dataSource,
    metrics,
    transactions,
    new GroupCommit(transactions),
    new SqliteStatements(dataSource),
    clock,
  );
}
