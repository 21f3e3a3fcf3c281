import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { TASK_STATUSES, type TaskStatus } from '../ledger/task-status';

export class ListTasksQuery {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  type?: string;

  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  tag?: string;

  /** Follow-ups of this task. */
  @IsOptional()
  @IsUUID()
  parentId?: string;

  /** Every task of the chain that started with this one. */
  @IsOptional()
  @IsUUID()
  rootId?: string;

  /** Runs of this schedule. */
  @IsOptional()
  @IsUUID()
  scheduleId?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  cursor?: string;
}
