import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ConversationDetailResponseDto } from 'src/modules/conversations/dto/conversations.dto';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { conversationToMarkdown } from 'src/modules/history/conversation-markdown';
import { ExportConversationQueryDto } from 'src/modules/history/dto/export.dto';
import { exportErrorLine, ExportService } from 'src/modules/history/export.service';
import { LineWriter } from 'src/modules/history/line-writer';

@ApiTags('conversations')
@ApiKeyAuth()
@Controller()
export class ExportController {
  constructor(private readonly exports: ExportService) {}

  @Get('c1/conversations/:id/export')
  @ApiOperation({ summary: 'Export one conversation as JSON or Markdown' })
  @ApiProduces('application/json', 'text/markdown')
  @ApiOkResponse({
    type: ConversationDetailResponseDto,
    description: 'A download (Content-Disposition): JSON, or Markdown that reads like the chat',
  })
  @ApiErrors('conversation_not_found', 'invalid_field', 'storage_error')
  async exportOne(
    @CurrentKey() key: AuthContext,
    @Param('id') id: string,
    @Query() query: ExportConversationQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ConversationDetailResponseDto | string> {
    const conversation = await this.exports.exportOne(key, id);
    if (query.format === 'markdown') {
      reply.header('content-type', 'text/markdown; charset=utf-8');
      reply.header(
        'content-disposition',
        `attachment; filename="conversation-${conversation.id}.md"`,
      );
      return conversationToMarkdown(conversation);
    }
    reply.header(
      'content-disposition',
      `attachment; filename="conversation-${conversation.id}.json"`,
    );
    return conversation;
  }

  @Get('c1/export')
  @ApiOperation({ summary: "Export all the caller's conversations as JSON Lines (streamed)" })
  @ApiProduces('application/x-ndjson')
  @ApiOkResponse({
    description:
      'Every conversation of the caller with its messages, one JSON object per line (JSON Lines), streamed. A failure after the first line ends the stream with an error envelope line.',
  })
  @ApiErrors('storage_error')
  async exportAll(@CurrentKey() key: AuthContext, @Res() reply: FastifyReply): Promise<void> {
    const raw = reply.raw;
    // Headers set through `reply.header()` (request id, rate limits) wait for `reply.send`,
    // which a stream never calls: copy them.
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="parley-export-${new Date().toISOString().slice(0, 10)}.jsonl"`,
      'cache-control': 'no-store',
    });
    const writer = new LineWriter(raw);
    try {
      await this.exports.exportAll(key, (c) => writer.write(`${JSON.stringify(c)}\n`));
    } catch (error) {
      // The reply's logger is its request's: the line carries the `reqId`.
      reply.log.error(
        { context: 'export' },
        `export failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      await writer.write(exportErrorLine(error));
    }
    writer.end();
  }
}
