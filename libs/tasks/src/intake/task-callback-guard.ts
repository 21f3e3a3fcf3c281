/**
 * Checks a per-task callback URL when a task is accepted (`callback: {url}`), for the lib that
 * delivers callbacks (webhooks: its SSRF guard) without the tasks lib knowing it. Absent, tasks
 * with a callback are refused: nothing would deliver it.
 */
export interface TaskCallbackGuard {
  /** Resolves with why the URL is refused, or null when it may be called. */
  check(tenantId: string, url: string): Promise<string | null>;
}

export const TASK_CALLBACK_GUARD = Symbol('TASK_CALLBACK_GUARD');
