import { ApiProperty } from '@nestjs/swagger';

export class ModelObjectDto {
  @ApiProperty({ example: 'llama-4-scout', description: 'The catalog alias to send as `model`' })
  id: string;
  @ApiProperty({ enum: ['model'] }) object: 'model';
  @ApiProperty({ description: 'Unix seconds (when this gateway process loaded its catalog)' })
  created: number;
  @ApiProperty({ example: 'parley' }) owned_by: string;
}

export class ModelListResponseDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ModelObjectDto] }) data: ModelObjectDto[];
}

export class ModelConstraintsDto {
  @ApiProperty() min_max_tokens: number;
  @ApiProperty() max_output_tokens: number;
  @ApiProperty() context_window: number;
  @ApiProperty() accepts_image_url: boolean;
  @ApiProperty() accepts_images: boolean;
  @ApiProperty() typical_response_seconds: number;
}

export class UpstreamInfoDto {
  @ApiProperty({
    description: 'Base URL, without credentials or query; `builtin:echo` for the dev model',
    example: 'http://vllm:8000/v1',
  })
  url: string;
  @ApiProperty({ enum: ['openai', 'anthropic'] }) format: 'openai' | 'anthropic';
  @ApiProperty({ description: "The upstream's own model name" }) model: string;
  @ApiProperty({ enum: ['up', 'down', 'unknown'], description: 'As last seen by this instance' })
  status: 'up' | 'down' | 'unknown';
  @ApiProperty({ type: String, nullable: true, format: 'date-time' }) last_seen_at: string | null;
  @ApiProperty({ type: Number, nullable: true }) latency_ms: number | null;
  @ApiProperty({ type: String, nullable: true, description: 'Catalog code of the last failure' })
  last_error: string | null;
}

export class ModelInfoDto {
  @ApiProperty() alias: string;
  @ApiProperty({ description: 'The built-in dev model (no GPU behind it)' }) dev: boolean;
  @ApiProperty({ type: String, nullable: true }) label: string | null;
  @ApiProperty({ type: ModelConstraintsDto }) constraints: ModelConstraintsDto;
  @ApiProperty({ type: [UpstreamInfoDto] }) upstreams: UpstreamInfoDto[];
}

export class InfoResponseDto {
  @ApiProperty({ enum: ['parley.info'] }) object: 'parley.info';
  @ApiProperty({ description: 'True when serving the built-in dev catalog (no MODELS_FILE)' })
  dev: boolean;
  @ApiProperty({ type: [ModelInfoDto] }) models: ModelInfoDto[];
}
