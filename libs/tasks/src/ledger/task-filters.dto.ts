import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { TASK_STATUSES, type TaskStatus } from './task-status';

/** Which of a tenant's tasks: the filters of `GET /v1/tasks`, shared by every reader of a task list (exports too). */
export class TaskFilters {
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

  /** Follow-ups of this task, or the children of this flow parent. */
  @IsOptional()
  @IsUUID()
  parentId?: string;

  /** Every task of the chain or flow that started with this one. */
  @IsOptional()
  @IsUUID()
  rootId?: string;

  /** Runs of this schedule. */
  @IsOptional()
  @IsUUID()
  scheduleId?: string;
}
