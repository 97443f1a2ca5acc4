import { Controller, Get, Inject, Optional, Req, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from 'src/common/decorators/public.decorator';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { AuthService } from 'src/modules/auth/auth.service';
import { hashApiKey } from 'src/modules/auth/key-material';
import { UPSTREAM_PROBE, UpstreamProbe, UpstreamCheckDto } from 'src/kernel/upstream-probe';

class ComponentCheckDto {
  @ApiProperty({ enum: ['up', 'down'] }) status: 'up' | 'down';
}

class ReadinessChecksDto {
  @ApiProperty({ type: ComponentCheckDto }) database: ComponentCheckDto;
  @ApiProperty({ type: [UpstreamCheckDto] }) upstreams: UpstreamCheckDto[];
}

class ReadinessResponseDto {
  @ApiProperty({ enum: ['ready', 'not_ready'] }) status: 'ready' | 'not_ready';
  @ApiProperty({ type: ReadinessChecksDto }) checks: ReadinessChecksDto;
}

class HealthResponseDto {
  @ApiProperty({ example: 'ok' }) status: 'ok';
}

@ApiTags('operations')
@Controller()
export class HealthController {
  /** METRICS_TOKEN and ADMIN_TOKEN, hashed: either unlocks the details of /readyz. */
  private readonly operatorHashes: readonly string[];

  constructor(
    private readonly dataSource: DataSource,
    private readonly auth: AuthService,
    @Inject(APP_CONFIG) config: AppConfig,
    @Optional() @Inject(UPSTREAM_PROBE) private readonly upstreams?: UpstreamProbe,
  ) {
    this.operatorHashes = [config.metrics.token, config.auth.adminToken]
      .filter((t): t is string => t !== null)
      .map(hashApiKey);
  }

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @Public()
  @ApiOkResponse({ type: HealthResponseDto, description: 'The process is up' })
  health(): HealthResponseDto {
    return { status: 'ok' };
  }

  /**
   * 200 while the database answers and at least one upstream is reachable; 503 otherwise.
   * Public, so it names each upstream by alias with its status only; URLs and latencies
   * (where the model servers are, how loaded) need METRICS_TOKEN or the admin token (#22
   * item 12). A wrong token is a failed authentication, answered without the details.
   */
  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: the database and each upstream' })
  @Public()
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Ready to serve' })
  @ApiServiceUnavailableResponse({ type: ReadinessResponseDto, description: 'Not ready' })
  async ready(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const [database, upstreams] = await Promise.all([
      this.checkDatabase(),
      this.upstreams ? this.upstreams.check() : Promise.resolve([]),
    ]);
    const upstreamOk = upstreams.length === 0 || upstreams.some((u) => u.status === 'up');
    const isReady = database.status === 'up' && upstreamOk;
    const isOperator =
      this.operatorHashes.length > 0 && this.auth.hasSecret(request, this.operatorHashes);
    const body: ReadinessResponseDto = {
      status: isReady ? 'ready' : 'not_ready',
      checks: {
        database,
        upstreams: isOperator
          ? upstreams
          : upstreams.map(({ alias, status }) => ({ alias, status })),
      },
    };
    await reply.status(isReady ? 200 : 503).send(body);
  }

  private async checkDatabase(): Promise<ComponentCheckDto> {
    try {
      await this.dataSource.query('SELECT 1');
      return { status: 'up' };
    } catch {
      return { status: 'down' };
    }
  }
}
