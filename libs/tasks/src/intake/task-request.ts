import type { TaskPipeline } from '../pipeline/pipeline';

/** A client-chosen task id: letters, digits and `_ . : -`, starting with a letter or digit (safe in a URL path). */
export const CLIENT_TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
export const CLIENT_TASK_ID_MAX = 128;

/** Furthest ahead a task may be scheduled, by delayMs or runAt. */
export const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;

/**
 * One task to create, whoever asks for it: an HTTP request (CreateTaskDto has this shape), a
 * handler's follow-up, a schedule's tick. Checked against the type's contract by TaskFactory.
 */
export interface TaskRequest {
  /** The client's own id for the task (see CLIENT_TASK_ID), unique per tenant. */
  id?: string;
  type: string;
  payload: Record<string, unknown>;
  /** 1 (highest) … 10 (lowest). */
  priority?: number;
  delayMs?: number;
  /** RFC 3339 with an offset (see parseInstant). */
  runAt?: string;
  expiresInMs?: number;
  maxAttempts?: number;
  timeoutMs?: number;
  idempotencyKey?: string;
  tags?: string[];
  /** Send this task's terminal event, signed, to this URL (see TaskCallbackGuard). */
  callback?: { url: string };
}

/**
 * Where a task comes from besides its tenant: the task whose handler asked for it, or the
 * schedule tick that fired it.
 */
export interface TaskOrigin {
  parentId?: string;
  /** The first task of the chain (the parent's root, or the parent itself). */
  rootId?: string;
  scheduleId?: string;
  /** The tick's nominal time (unique per schedule in the ledger). */
  scheduleTick?: Date;
  /** The pipeline the task belongs to: its input and the steps after it. */
  pipeline?: TaskPipeline;
}
