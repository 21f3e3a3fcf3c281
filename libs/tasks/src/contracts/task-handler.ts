import { applyDecorators, Injectable, SetMetadata } from '@nestjs/common';
import type { Logger } from 'pino';
import type { TaskTypeDefinition } from './task-type';

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
  /** Logger bound to task id, type and attempt. */
  readonly logger: Logger;
  /** Reports progress; throttled to PROGRESS_UPDATE_INTERVAL_MS, so call it as often as convenient. */
  progress(percent: number, message?: string): void;
}

export interface TaskHandler<P extends object = object, R = unknown> {
  handle(payload: P, context: TaskContext): Promise<R>;
}

/**
 * Marks a provider as the handler of one task type. The worker discovers handlers by this
 * metadata and refuses to start if a type routed to its queues has none, or two.
 */
export function HandlesTask(definition: TaskTypeDefinition): ClassDecorator {
  return applyDecorators(Injectable(), SetMetadata(TASK_HANDLER_METADATA, definition));
}
