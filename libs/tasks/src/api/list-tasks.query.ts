import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageQuery } from '@conveyor/http';
import { TASK_STATUSES, type TaskStatus } from '../ledger/task-status';

export class ListTasksQuery extends PageQuery {
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
}
