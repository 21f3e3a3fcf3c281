import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { NestedDto, OpaqueJson } from '@conveyor/http';
import { IsInstant } from '../intake/instant';
import { CLIENT_TASK_ID, CLIENT_TASK_ID_MAX, MAX_DELAY_MS, type TaskRequest } from '../intake/task-request';

export const MAX_BATCH_SIZE = 1000;
const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;

/**
 * The fields a stored task template shares with `POST /v1/tasks` (a schedule's task uses
 * these): one set of rules for both.
 */
export class TaskTemplateDto {
  @IsString()
  @MaxLength(128)
  type: string;

  /** Passed on as parsed; the task type's contract validates it (TaskFactory). */
  @IsObject()
  @OpaqueJson()
  payload: Record<string, unknown>;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10)
  priority?: number;

  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  timeoutMs?: number;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  @Matches(/^[\w.:@/-]+$/, { each: true, message: 'each tag may hold letters, digits and _ . : @ / - only' })
  tags?: string[];
}

/** Body of `POST /v1/tasks` and each item of a batch. */
/** `callback` of `POST /v1/tasks`: where the task's terminal event is sent, signed, once. */
export class TaskCallbackDto {
  @IsString()
  @MaxLength(2048)
  url: string;
}

export class CreateTaskDto extends TaskTemplateDto implements TaskRequest {
  /**
   * Your own id for the task, unique in your tenant (1–128 of letters, digits and `_ . : -`,
   * starting with a letter or digit). Sent again with the same body it returns the same task;
   * with another body it is refused (409 TASK_ID_REUSED). Tasks are read by it or by their `id`.
   */
  @IsOptional()
  @IsString()
  @MaxLength(CLIENT_TASK_ID_MAX)
  @Matches(CLIENT_TASK_ID, { message: 'id may hold letters, digits and _ . : - only, starting with a letter or digit' })
  id?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_DELAY_MS)
  delayMs?: number;

  /** RFC 3339 with an offset; read by `parseInstant`, the same parser that computes the delay. */
  @IsOptional()
  @IsInstant()
  runAt?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(ONE_YEAR_MS)
  expiresInMs?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  maxAttempts?: number;

  /** Same as the Idempotency-Key header; lets each task of a batch carry its own key. */
  @IsOptional()
  @IsString()
  @MaxLength(255)
  @Matches(/^[\x21-\x7e]+$/, { message: 'idempotencyKey must be printable ASCII without spaces' })
  idempotencyKey?: string;

  /** The task's terminal event (completed, failed, cancelled, expired) goes to this URL too, signed with the tenant's callback secret. */
  @IsOptional()
  @IsObject()
  @NestedDto(() => TaskCallbackDto, {})
  callback?: TaskCallbackDto;
}

export class CreateTaskBatchDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_SIZE)
  @NestedDto(() => CreateTaskDto)
  tasks: CreateTaskDto[];
}

/** Body of `PATCH /v1/tasks/:id`: a new priority for a task that has not started. */
export class UpdateTaskDto {
  /** 1 (highest) … 10 (lowest). */
  @IsInt()
  @Min(1)
  @Max(10)
  priority: number;
}

/** Body of `POST /v1/tasks/retry`: which finished tasks to run again. */
export class RetryTasksDto {
  @IsOptional()
  @IsString()
  @MaxLength(128)
  type?: string;

  @IsOptional()
  @IsIn(['failed', 'cancelled', 'expired'])
  status?: 'failed' | 'cancelled' | 'expired';

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BATCH_SIZE)
  limit?: number;
}
