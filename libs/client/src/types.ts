import type { TaskTypeName, TaskTypes } from './task-types.gen.js';

export const TASK_STATUSES = ['waiting', 'scheduled', 'queued', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TERMINAL_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled', 'expired'];

/** A task as the API shows it (the `TaskView` schema of the OpenAPI document). */
export interface TaskView<T extends string = string> {
  id: string;
  type: T;
  queue: string;
  status: TaskStatus;
  priority: number;
  payload: T extends TaskTypeName ? TaskTypes[T]['payload'] : Record<string, unknown>;
  /** What it completed with (typed per task type from its contract); null until then. */
  result: (T extends TaskTypeName ? TaskTypes[T]['result'] : unknown) | null;
  error: { code: string; message: string } | null;
  progress: { percent: number; message?: string } | null;
  attempts: number;
  maxAttempts: number;
  timeoutMs: number;
  idempotencyKey: string | null;
  /** The id its client chose on enqueue, unique per tenant; null if none. */
  clientId: string | null;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  scheduledFor: string | null;
  expiresAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  workerId: string | null;
  parentId: string | null;
  rootId: string | null;
  onFailure: string | null;
  scheduleId: string | null;
  scheduledTick: string | null;
  pipeline: Record<string, unknown> | null;
  callback: { url: string } | null;
  traceId: string | null;
}

/** `GET /v1/tasks/:id`: the task and the first page of its follow-ups. */
export interface TaskDetail<T extends string = string> extends TaskView<T> {
  children: Array<{ id: string; type: string; status: TaskStatus }>;
  moreChildren: boolean;
}

export interface EnqueueOptions {
  /**
   * Your own id for the task, unique in your tenant (1–128 of `A-Za-z0-9_.:-`): the same id with
   * the same request gives the same task, with another request ConveyorConflictError TASK_ID_REUSED.
   * Every method that takes a task id takes this one too.
   */
  id?: string;
  /** 1 (highest) … 10 (lowest). */
  priority?: number;
  delayMs?: number;
  /** RFC 3339 with an offset; not with delayMs. */
  runAt?: string;
  maxAttempts?: number;
  timeoutMs?: number;
  expiresInMs?: number;
  tags?: string[];
  /** Your own key; otherwise the client makes one, so a retry after a lost answer creates nothing twice. */
  idempotencyKey?: string;
  /** The terminal event also goes to this URL, signed with the tenant's callback secret. */
  callback?: { url: string };
}

/** One task of a batch: its type, payload and options. */
export type BatchItem = { [T in TaskTypeName]: { type: T; payload: TaskTypes[T]['payload'] } & EnqueueOptions }[TaskTypeName];

export interface ListFilter {
  type?: string;
  status?: TaskStatus;
  tag?: string;
  parentId?: string;
  rootId?: string;
  scheduleId?: string;
  /** Page size (the API's default: 50). */
  limit?: number;
}

export interface TaskPage {
  tasks: TaskView[];
  nextCursor: string | null;
}

export interface CancelResult extends TaskView {
  /** `cancelled`: done now; `cancelling`: it was running and its worker has been told to stop. */
  cancellation: 'cancelled' | 'cancelling';
}

/** One Server-Sent Event of `GET /v1/tasks/:id/events`. */
export type TaskEvent =
  | { id: string; event: 'status'; data: TaskView }
  | { id: string; event: 'progress'; data: { id: string; status: TaskStatus; progress: TaskView['progress'] } }
  | { id: string | undefined; event: 'error'; data: { code: string; message: string } };
