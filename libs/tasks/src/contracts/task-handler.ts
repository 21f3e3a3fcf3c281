import { applyDecorators, Injectable, SetMetadata } from '@nestjs/common';
import type { Logger } from 'pino';
import type { TaskRequest } from '../intake/task-request';
import type { FlowPolicy } from '../ledger/flow-policy';
import type { TaskLog } from '../task-logs/task-log';
import type { TaskError, TaskStatus } from '../ledger/task-status';
import type { TaskTypeDefinition } from './task-type';

/** Options of a follow-up: the task options of `POST /v1/tasks`, and its identity. */
export type FollowUpOptions = Omit<TaskRequest, 'type' | 'payload' | 'id'> & {
  /**
   * Names this follow-up among the parent's (default: its position, "0", "1", …). A re-run of
   * the parent that enqueues the same keys creates nothing new: give stable keys when the
   * handler's order of `enqueue` calls may vary. An `idempotencyKey` (tenant-wide, as on
   * `POST /v1/tasks`) replaces the key derived from it.
   */
  key?: string;
};

/** A flow parent's child as its handler sees it (`ctx.children()`): ended, with its outcome. */
export interface FlowChild<R = unknown> {
  id: string;
  type: string;
  /** completed, or failed / cancelled / expired (only under `continue`). */
  status: TaskStatus;
  result: R | null;
  error: TaskError | null;
  /** The policy of the edge to this parent. */
  onFailure: FlowPolicy;
}

export const TASK_HANDLER_METADATA = 'conveyor:task-handler';

/** What a handler gets besides its payload. */
export interface TaskContext {
  readonly taskId: string;
  readonly tenantId: string;
  readonly type: string;
  /** 1-based number of this attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Fires on timeout (and, later, cancellation); long work must check it and stop. */
  readonly signal: AbortSignal;
  /** Logger bound to task id, type, attempt and tenant: the worker's output only. */
  readonly logger: Logger;
  /**
   * The task's own log: each line goes to the worker's output (with the bindings of `logger`)
   * and is kept with the task, readable at `GET /v1/tasks/:id/logs` (per attempt, up to
   * TASK_LOG_MAX_LINES and TASK_LOG_MAX_BYTES; the stored log says when lines were dropped).
   */
  readonly log: TaskLog;
  /** Reports progress; throttled to PROGRESS_UPDATE_INTERVAL_MS, so call it as often as convenient. */
  progress(percent: number, message?: string): void;
  /**
   * Asks for a follow-up task, created exactly once when this task completes (never if it
   * fails): written to the ledger in the same transaction as the completion, then queued.
   * The payload is checked now against the type's contract; a type this task type did not
   * declare in `followUps`, or an invalid payload, throws a TaskFailure that fails the attempt
   * for good (unless the handler catches it).
   */
  enqueue<P extends object, R>(definition: TaskTypeDefinition<P, R>, payload: P, options?: FollowUpOptions): Promise<void>;
  /**
   * The children of this flow node, all ended (a flow parent runs after its children), in the
   * order the flow listed them, with their results; [] for a task that is not a flow parent.
   * Failed children under `ignore` are left out; under `continue` they are listed with their
   * error, for the handler to decide.
   */
  children<R = unknown>(): Promise<Array<FlowChild<R>>>;
}

export interface TaskHandler<P extends object = object, R = unknown> {
  handle(payload: P, context: TaskContext): Promise<R>;
}

/**
 * What `@HandlesTask(def)` accepts: a class whose `handle` takes the contract's payload and
 * resolves to its result. `handle` is a property type here, not a method, so its payload is
 * checked contravariantly (a method would be compared both ways and let a narrower payload through).
 */
export type TaskHandlerClass<P extends object, R> = new (...args: never[]) => {
  handle: (payload: P, context: TaskContext) => Promise<R>;
};

/**
 * Marks a provider as the handler of one task type. The worker discovers handlers by this
 * metadata and refuses to start if a type routed to its queues has none, or two. The compiler
 * refuses a handler whose `handle` does not take the definition's payload type or does not
 * resolve to (something assignable to) its result type.
 */
export function HandlesTask<P extends object, R>(definition: TaskTypeDefinition<P, R>): (target: TaskHandlerClass<P, R>) => void {
  const decorate = applyDecorators(Injectable(), SetMetadata(TASK_HANDLER_METADATA, definition));
  return (target) => decorate(target);
}
