import { DataSource } from 'typeorm';
import { Clock } from 'src/common/time/clock';
import { GroupCommit } from 'src/database/group-commit';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';
import { ConversationSql } from 'src/modules/conversations/conversation-sql';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { TurnsRepository } from 'src/modules/conversations/turns.repository';
import { MetricsService } from 'src/modules/metrics/metrics.service';

/**
 * The conversation tables on `dataSource` with the database services wired as the app does:
 * the shared SQL helpers, the conversations repository and the turn store.
 */
export function conversationStoresOn(
  dataSource: DataSource,
  metrics: MetricsService,
  options: { clock?: Clock; cache?: HistoryCache } = {},
): { tables: ConversationSql; repo: ConversationsRepository; turns: TurnsRepository } {
  const statements = new SqliteStatements(dataSource);
  const transactions = new SerialTransactions(dataSource, statements);
  const tables = new ConversationSql(dataSource, metrics, statements);
  return {
    tables,
    repo: new ConversationsRepository(tables, transactions, options.clock),
    turns: new TurnsRepository(
      tables,
      metrics,
      options.cache ?? new HistoryCache(),
      transactions,
      new GroupCommit(transactions),
      options.clock,
    ),
  };
}
