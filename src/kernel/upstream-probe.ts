import { ApiProperty } from '@nestjs/swagger';

export class UpstreamCheckDto {
  @ApiProperty() alias: string;
  @ApiProperty({
    required: false,
    description: 'Base URL without credentials; only with METRICS_TOKEN or the admin token',
  })
  url?: string;
  @ApiProperty({ enum: ['up', 'down'] }) status: 'up' | 'down';
  @ApiProperty({
    type: Number,
    nullable: true,
    required: false,
    description: 'Only with METRICS_TOKEN or the admin token',
  })
  latency_ms?: number | null;
}

/** Provided by the proxy module: checks each upstream cheaply (cached for a few seconds). */
export interface UpstreamProbe {
  check(): Promise<UpstreamCheckDto[]>;
}

export const UPSTREAM_PROBE = Symbol('UPSTREAM_PROBE');
