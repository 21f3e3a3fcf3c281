import { uuidv7 } from 'uuidv7';
import { TaskEntity } from '@conveyor/tasks';

/**
 * A complete ledger row for tests that write the tasks table directly: a queued `system.noop`
 * of tenant `tenant-a` with a fresh UUIDv7, every column set, `overrides` on top.
 */
export function taskRow(overrides: Partial<TaskEntity> = {}): TaskEntity {
  const now = new Date();
  return Object.assign(new TaskEntity(), {
    id: uuidv7(),
    tenantId: 'tenant-a',
    type: 'system.noop',
    queue: 'system',
    status: 'queued',
    priority: 5,
    payload: {},
    result: null,
    error: null,
    progress: null,
    attempts: 0,
    maxAttempts: 3,
    attemptBudget: 3,
    timeoutMs: 1000,
    idempotencyKey: null,
    clientId: null,
    idempotencyHash: null,
    tags: null,
    createdAt: now,
    updatedAt: now,
    scheduledFor: null,
    expiresAt: null,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    parentId: null,
    rootId: null,
    scheduleId: null,
    scheduleTick: null,
    onFailure: null,
    pipeline: null,
    callbackUrl: null,
    traceId: null,
    ...overrides,
  } satisfies TaskEntity);
}
