import { Type } from 'class-transformer';
import { IsInt, IsOptional, Min } from 'class-validator';
import { PageQuery } from '@conveyor/http';

/** `GET /v1/tasks/:id/logs?attempt=&limit=&cursor=`. */
export class TaskLogsQuery extends PageQuery {
  /** Only the lines of this attempt (1-based). */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  attempt?: number;
}
