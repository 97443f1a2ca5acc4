import { Module } from '@nestjs/common';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { EraseService } from 'src/modules/history/erase.service';
import { ExportController } from 'src/modules/history/export.controller';
import { ExportService } from 'src/modules/history/export.service';
import { HistoryRepository } from 'src/modules/history/history.repository';
import { RetentionSweeper } from 'src/modules/history/retention.sweeper';
import { UserDataController } from 'src/modules/history/user-data.controller';

/** What people and operators do with stored history (issue #19): export, retention, erase. */
@Module({
  imports: [ConversationsModule],
  controllers: [ExportController, UserDataController],
  providers: [HistoryRepository, ExportService, EraseService, RetentionSweeper],
})
export class HistoryModule {}
