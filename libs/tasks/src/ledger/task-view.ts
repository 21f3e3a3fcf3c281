import type { TaskEntity } from './task.entity';
import type { TaskView } from './task-view.dto';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** The public JSON shape of a ledger row (its fields: `TaskView`, which the OpenAPI document shows). */
export function toTaskView(task: TaskEntity): TaskView {
  return {
    id: task.id,
    type: task.type,
    queue: task.queue,
    status: task.status,
    priority: task.priority,
    payload: task.payload,
    result: task.result ?? null,
    error: task.error ?? null,
    progress: task.progress ?? null,
    attempts: task.attempts,
    maxAttempts: task.maxAttempts,
    timeoutMs: task.timeoutMs,
    idempotencyKey: task.idempotencyKey,
    clientId: task.clientId ?? null,
    tags: task.tags ?? [],
    createdAt: iso(task.createdAt),
    updatedAt: iso(task.updatedAt),
    scheduledFor: iso(task.scheduledFor),
    expiresAt: iso(task.expiresAt),
    startedAt: iso(task.startedAt),
    finishedAt: iso(task.finishedAt),
    workerId: task.workerId,
    parentId: task.parentId ?? null,
    rootId: task.rootId ?? null,
    onFailure: task.onFailure ?? null,
    scheduleId: task.scheduleId ?? null,
    scheduledTick: iso(task.scheduleTick ?? null),
    pipeline: task.pipeline ?? null,
    callback: task.callbackUrl ? { url: task.callbackUrl } : null,
    traceId: task.traceId ?? null,
  };
}
