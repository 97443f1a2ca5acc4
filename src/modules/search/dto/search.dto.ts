import { ApiProperty } from '@nestjs/swagger';

export class SearchHitDto {
  @ApiProperty({ example: 'conversation.search_hit' }) object: 'conversation.search_hit';
  @ApiProperty({
    description:
      'The conversation holding the message (the most recently active one when forks share it).',
  })
  conversation_id: string;
  @ApiProperty() message_id: string;
  @ApiProperty({ enum: ['system', 'user', 'assistant', 'tool'] }) role: string;
  @ApiProperty({
    description:
      'HTML-escaped excerpt of the message with `<mark>` around the matched words: safe to render as HTML.',
  })
  snippet: string;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class SearchHitListResponseDto {
  @ApiProperty({ example: 'list' }) object: 'list';
  @ApiProperty({ type: [SearchHitDto], description: 'Best match first.' }) data: SearchHitDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}
