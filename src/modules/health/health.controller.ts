import { Controller, Get, Inject, Optional, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { DataSource } from 'typeorm';
import { Public } from 'src/common/decorators/public.decorator';
import { UPSTREAM_PROBE, UpstreamProbe, UpstreamCheckDto } from 'src/modules/health/upstream-probe';

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
  constructor(
    private readonly dataSource: DataSource,
    @Optional() @Inject(UPSTREAM_PROBE) private readonly upstreams?: UpstreamProbe,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process is up' })
  @Public()
  @ApiOkResponse({ type: HealthResponseDto, description: 'The process is up' })
  health(): HealthResponseDto {
    return { status: 'ok' };
  }

  /** 200 while the database answers and at least one upstream is reachable; 503 otherwise. */
  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: the database and each upstream' })
  @Public()
  @ApiOkResponse({ type: ReadinessResponseDto, description: 'Ready to serve' })
  @ApiServiceUnavailableResponse({ type: ReadinessResponseDto, description: 'Not ready' })
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const [database, upstreams] = await Promise.all([
      this.checkDatabase(),
      this.upstreams ? this.upstreams.check() : Promise.resolve([]),
    ]);
    const upstreamOk = upstreams.length === 0 || upstreams.some((u) => u.status === 'up');
    const isReady = database.status === 'up' && upstreamOk;
    const body: ReadinessResponseDto = {
      status: isReady ? 'ready' : 'not_ready',
      checks: { database, upstreams },
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
