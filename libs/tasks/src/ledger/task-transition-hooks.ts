import type { EntityManager } from 'typeorm';
import type { TaskStatus } from './task-status';

/** A task moving to a status, as the ledger writers see it. */
export interface TaskTransition {
  taskId: string;
  status: TaskStatus;
  /** Known to writers that hold the job (the worker) or the row (the API); lets a hook skip a tenant cheaply. */
  tenantId?: string;
  type?: string;
  /**
   * Whether the task is a flow's root, and whether it carries a per-task callback. Undefined
   * means the writer does not know: a hook must then assume it might.
   */
  flowRoot?: boolean;
  callback?: boolean;
}

/**
 * An extension point for a lib that must record something in the same transaction as a task's
 * state change (webhooks write their outbox this way), without the tasks lib knowing that lib.
 * Provided under {@link TASK_TRANSITION_HOOKS}; absent, the writers behave as if nobody listened.
 */
export interface TaskTransitionHooks {
  /**
   * Whether this transition needs {@link record}. Called on the hot path for every state
   * change: must answer from memory. A `true` makes the write run in a transaction.
   */
  wants(transition: TaskTransition): boolean;
  /**
   * Called inside the transaction that wrote the transitions, after the rows were updated (a
   * row a concurrent cancel kept `cancelled` shows its real status; the hook reads the rows).
   * Throwing rolls the state change back with it, so the writer retries both.
   */
  record(manager: EntityManager, transitions: TaskTransition[]): Promise<void>;
}

export const TASK_TRANSITION_HOOKS = Symbol('TASK_TRANSITION_HOOKS');
