import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** One GPU of a node; extra numeric or short text fields the agent sends are kept as they are. */
export class GpuStatDto {
  @ApiProperty({ example: 0, minimum: 0, maximum: 1023 }) index: number;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'GPU-5d7c…' }) uuid: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, example: 'NVIDIA H100 80GB HBM3' })
  name: string | null;
  @ApiPropertyOptional({ type: Number, nullable: true, description: 'Percent', example: 87 })
  utilization_gpu: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 71234 })
  memory_used_mib: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 81559 })
  memory_total_mib: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 64 })
  temperature_c: number | null;
  @ApiPropertyOptional({ type: Number, nullable: true, example: 412.5 }) power_w: number | null;
}

/** `POST /api/gpu-stats`: what a node's agent sends. At most 64 GPUs. */
export class ReportGpuStatsDto {
  @ApiProperty({
    description: 'The node name: 1-128 letters, digits and . _ : -',
    example: 'gpu-node-1',
  })
  node: string;

  @ApiProperty({ type: [GpuStatDto], maxItems: 64 })
  gpus: GpuStatDto[];
}

export class GpuReportAcceptedDto {
  @ApiProperty({ example: 'gpu-node-1' }) node: string;
  @ApiProperty({ example: 8 }) gpus: number;
  @ApiProperty({ example: '2026-12-04T20:31:07.120Z' }) reported_at: string;
}

export class GpuNodeDto {
  @ApiProperty({ example: 'gpu-node-1' }) node: string;
  @ApiProperty({ example: '2026-12-04T20:31:07.120Z' }) reported_at: string;
  @ApiProperty({ description: 'No report for FLEET_NODE_STALE_SECS' }) stale: boolean;
  @ApiProperty({ type: [GpuStatDto] }) gpus: GpuStatDto[];
}

export class UpstreamLoadDto {
  @ApiProperty({ example: 'llama-4-scout' }) alias: string;
  @ApiProperty({ example: 'http://vllm-1:8000/v1' }) url: string;
  @ApiProperty({ enum: ['up', 'down', 'unknown'] }) status: 'up' | 'down' | 'unknown';
  @ApiProperty({ type: Number, nullable: true, example: 3 }) running: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 0 }) waiting: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '0..1', example: 0.42 })
  kv_cache_usage: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '0..1', example: 0.8 })
  prefix_cache_hit_rate: number | null;
  @ApiProperty({ type: Number, nullable: true, example: 180 }) ttft_p50_ms: number | null;
  @ApiProperty({ type: String, nullable: true, example: '2026-12-04T20:31:07.120Z' })
  scraped_at: string | null;
  @ApiProperty({ description: 'Figures older than three FLEET_SCRAPE_SECS: not used for routing' })
  stale: boolean;
  @ApiProperty({ type: String, nullable: true, example: null }) last_error: string | null;
}

export class GpuStatsResponseDto {
  @ApiProperty({ type: [GpuNodeDto], description: 'Nodes heard from within a day, by name' })
  nodes: GpuNodeDto[];
  @ApiProperty({ type: [UpstreamLoadDto], description: 'Every upstream of the catalog' })
  upstreams: UpstreamLoadDto[];
}
