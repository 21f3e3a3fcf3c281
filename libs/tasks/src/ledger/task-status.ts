/**
 * Lifecycle of a task in the ledger (ROADMAP §3). `waiting` is a flow parent waiting for its
 * children: it has no BullMQ job until they release it.
 */
export const TASK_STATUSES = ['waiting', 'scheduled', 'queued', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired'] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled', 'expired']);

/** States in which the ledger expects the task's BullMQ job to exist (everything unfinished but `waiting`). */
export const JOB_STATUSES: readonly TaskStatus[] = ['scheduled', 'queued', 'active', 'retrying'];

export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export interface TaskError {
  code: string;
  message: string;
}

export interface TaskProgress {
  percent: number;
  message?: string;
}
