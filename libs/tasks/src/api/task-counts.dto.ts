import { ApiProperty } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** `GET /v1/tasks/counts?type=`. */
export class TaskCountsQuery {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  type?: string;
}

/** Tasks per status; a count above `cap` is reported as `cap + 1` ("more than cap"). */
export class TaskCountsView {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { queued: 3, active: 1, failed: 12 } })
  counts: Record<string, number>;

  @ApiProperty({ example: 10000 })
  cap: number;
}
