import { Module } from '@nestjs/common';
import { MessageSearchRepository } from 'src/modules/search/message-search.repository';
import { SearchIndexKeeper } from 'src/modules/search/search-index-keeper';
import { SearchIndexQueue } from 'src/modules/search/search-index-queue';
import { SearchService } from 'src/modules/search/search.service';

/** Full-text search over stored messages; the index itself is kept by database triggers. */
@Module({
  providers: [MessageSearchRepository, SearchService, SearchIndexKeeper, SearchIndexQueue],
  exports: [SearchService],
})
export class SearchModule {}
