import { ApiProperty } from '@nestjs/swagger';

export class LivenessView {
  @ApiProperty({ enum: ['ok'] })
  status: string;
  uptimeSeconds: number;
  pid: number;
}

/** Terminus' check result: `info` holds the healthy dependencies, `error` the failing ones. */
export class ReadinessView {
  @ApiProperty({ enum: ['ok', 'error'] })
  status: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { database: { status: 'up' }, redis: { status: 'up' } } })
  info?: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true })
  error?: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true })
  details: Record<string, unknown>;
}
