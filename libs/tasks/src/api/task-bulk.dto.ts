import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsObject, IsOptional, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { NestedDto } from '@conveyor/http';
import { TASK_STATUSES, type TaskStatus } from '../ledger/task-status';

/** Tasks one bulk call acts on at most. */
export const MAX_BULK_TASKS = 1000;

/** Which tasks, by what they are rather than by id. */
export class BulkFilterDto {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  type?: string;

  /** The error code of the failed inbox's group. */
  @IsOptional()
  @IsString()
  @MaxLength(128)
  errorCode?: string;

  /** Retry: failed (default), cancelled or expired. Cancel: required, an unfinished status. */
  @IsOptional()
  @IsIn(TASK_STATUSES)
  status?: TaskStatus;
}

/** Body of `POST /v1/tasks/bulk/retry` and `/bulk/cancel`: `ids` or `filter`, not both. */
export class BulkSelectionDto {
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BULK_TASKS)
  @IsUUID('all', { each: true })
  ids?: string[];

  @IsOptional()
  @IsObject()
  @NestedDto(() => BulkFilterDto, {})
  filter?: BulkFilterDto;

  /** With `filter`: the newest this many matching tasks (default and maximum 1000). */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BULK_TASKS)
  limit?: number;
}

export class BulkSkipView {
  @ApiProperty({ example: '0190f0c2-5b1a-7c3e-9a51-3a7a9f0e1d2c' })
  id: string;

  @ApiProperty({ example: 'TASK_NOT_RETRYABLE', description: 'Why this task was left as it was: the code the single-task route would have answered' })
  code: string;

  @ApiProperty({ example: 'A completed task cannot be retried; only failed, cancelled or expired ones' })
  message: string;
}

/** What a bulk call did: every selected task is in exactly one of the two lists. */
export class BulkOutcomeView {
  @ApiProperty({ type: [String], description: 'Ids retried (or cancelled / told to stop)' })
  done: string[];

  @ApiProperty({ type: [BulkSkipView] })
  skipped: BulkSkipView[];
}

export class FailureGroupView {
  @ApiProperty({ example: 'file.clean' })
  type: string;

  @ApiProperty({ type: String, nullable: true, example: 'HANDLER_ERROR' })
  errorCode: string | null;

  @ApiProperty({ example: 12 })
  count: number;

  @ApiProperty({ description: 'The newest failed task of the group' })
  latestId: string;
}

/** `GET /v1/tasks/failures`: the failed inbox's groups over the newest `window` failed tasks. */
export class FailureGroupsView {
  @ApiProperty({ type: [FailureGroupView] })
  groups: FailureGroupView[];

  @ApiProperty({ example: 10000, description: 'How many of the newest failed tasks were grouped' })
  window: number;
}
