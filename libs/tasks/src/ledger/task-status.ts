/** Lifecycle of a task in the ledger (ROADMAP §3). */
export const TASK_STATUSES = ['scheduled', 'queued', 'active', 'retrying', 'completed', 'failed', 'cancelled', 'expired'] as const;

export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled', 'expired']);

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
