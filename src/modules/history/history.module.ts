import { Module } from '@nestjs/common';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { ExportController } from 'src/modules/history/export.controller';
import { ExportService } from 'src/modules/history/export.service';
import { HistoryRepository } from 'src/modules/history/history.repository';

/** What people and operators do with stored history (issue #19): export, retention, erase. */
@Module({
  imports: [ConversationsModule],
  controllers: [ExportController],
  providers: [HistoryRepository, ExportService],
})
export class HistoryModule {}
