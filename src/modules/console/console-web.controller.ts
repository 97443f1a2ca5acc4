import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from 'src/common/decorators/public.decorator';
import { ApiError } from 'src/common/errors/api-error';
import { ConsoleAssets } from 'src/modules/console/console-assets';

/**
 * Everything from the gateway's own origin, nothing inline: scripts and styles are files, the
 * page cannot be framed, and it can only talk back to this origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The console web app. The page is public (it holds no data: everything comes from /api with
 * the session); assets have content-hashed names, so they are cached for a year and the page
 * itself is revalidated on every load.
 */
@ApiExcludeController()
@Controller('console')
export class ConsoleWebController {
  constructor(private readonly files: ConsoleAssets) {}

  @Public()
  @Get()
  page(@Res({ passthrough: true }) reply: FastifyReply): Buffer {
    const index = this.files.index;
    if (!index) {
      throw new ApiError('route_not_found', 'The console is not built: run npm run build');
    }
    void reply.headers({
      ...SECURITY_HEADERS,
      'content-type': index.contentType,
      'cache-control': 'no-cache',
    });
    return index.body;
  }

  @Public()
  @Get('assets/:file')
  asset(@Param('file') file: string, @Res({ passthrough: true }) reply: FastifyReply): Buffer {
    const asset = this.files.asset(file);
    if (!asset) {
      throw new ApiError('route_not_found', `No console asset ${file.slice(0, 100)}`);
    }
    void reply.headers({
      ...SECURITY_HEADERS,
      'content-type': asset.contentType,
      'cache-control': 'public, max-age=31536000, immutable',
    });
    return asset.body;
  }
}
