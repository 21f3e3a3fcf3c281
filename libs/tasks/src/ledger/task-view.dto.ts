import { ApiProperty } from '@nestjs/swagger';
import { TASK_STATUSES, type TaskStatus } from './task-status';

/*
 * The task routes' response shapes, for the OpenAPI document (the Swagger plugin reads these
 * classes) and for TypeScript: `toTaskView` is typed by `TaskView`, so a field added to the
 * view without being added here does not compile.
 */

export class TaskErrorView {
  /** Machine-readable, e.g. HANDLER_ERROR, TIMEOUT, CHECKSUM_MISMATCH. */
  code: string;
  message: string;
}

export class TaskProgressView {
  /** 0..100 */
  percent: number;
  message?: string;
}

export class TaskCallbackView {
  url: string;
}

/** A task as the ledger holds it (`GET /v1/tasks/:id` adds its children). */
export class TaskView {
  @ApiProperty({ format: 'uuid', example: '0193a5c8-6f2e-7b7a-9a53-2f6c1f9d8e21' })
  id: string;
  @ApiProperty({ example: 'system.sleep' })
  type: string;
  queue: string;
  @ApiProperty({ enum: TASK_STATUSES, example: 'queued' })
  status: TaskStatus;
  /** 1 (highest) … 10 (lowest) */
  priority: number;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { ms: 1000 } })
  payload: unknown;
  /** What the handler returned; null until completed. */
  @ApiProperty({ nullable: true, description: 'What the handler returned; null until completed' })
  result: unknown;
  error: TaskErrorView | null;
  progress: TaskProgressView | null;
  /** Attempts started so far. */
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  /** The id its client chose on enqueue (`id`), unique per tenant; null if none. */
  clientId: string | null;
  tags: string[];
  @ApiProperty({ format: 'date-time' })
  createdAt: string | null;
  @ApiProperty({ format: 'date-time' })
  updatedAt: string | null;
  /** When a delayed task becomes due; for a `retrying` task, when its next attempt runs. */
  scheduledFor: string | null;
  expiresAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  workerId: string | null;
  /** The flow parent or the task whose handler asked for this one. */
  parentId: string | null;
  rootId: string | null;
  /** Its flow edge's policy when it is a flow child. */
  onFailure: string | null;
  scheduleId: string | null;
  scheduledTick: string | null;
  /** The `then` steps still to run after it, and the input they get. */
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true })
  pipeline: object | null;
  callback: TaskCallbackView | null;
  /** The OpenTelemetry trace the task's work belongs to (tracing on), else null. */
  traceId: string | null;
}

export class TaskChildView {
  @ApiProperty({ format: 'uuid' })
  id: string;
  type: string;
  @ApiProperty({ enum: TASK_STATUSES })
  status: string;
}

/** `GET /v1/tasks/:id`: the task with the first page of its follow-ups. */
export class TaskDetailView extends TaskView {
  children: TaskChildView[];
  /** More children than listed: page them with `GET /v1/tasks?parentId=`. */
  moreChildren: boolean;
}

export class TaskListView {
  tasks: TaskView[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export class TaskBatchView {
  /** In the order of the request. */
  tasks: TaskView[];
}

export class CancelledTaskView extends TaskView {
  /** `cancelled`: done now; `cancelling`: its worker has been told to stop. */
  @ApiProperty({ enum: ['cancelled', 'cancelling'] })
  cancellation: string;
}

export class RetriedTasksView {
  retried: string[];
  /** Matched but not retryable any more (e.g. retried meanwhile). */
  skipped: string[];
}
