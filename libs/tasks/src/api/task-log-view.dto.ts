import type { TaskLogEntity } from '../task-logs/task-log.entity';

/** One line a handler logged with `ctx.log`. */
export class TaskLogLineView {
  id: string;
  /** The attempt that logged it (1-based, as the task's `attempts`). */
  attempt: number;
  /** info, warn or error. */
  level: string;
  message: string;
  /** The structured fields given with the line, if any. */
  fields: Record<string, unknown> | null;
  /** When the handler logged it (ISO 8601). */
  loggedAt: string;
}

/** `GET /v1/tasks/:id/logs`: a page of the task's lines, oldest first. */
export class TaskLogPageView {
  lines: TaskLogLineView[];
  /**
   * Pass as `cursor` for the lines after this page; null when there are none yet. While the
   * task has not ended it is set after any page with lines, so a client can poll for new ones.
   */
  nextCursor: string | null;
}

export function toTaskLogLineView(line: TaskLogEntity): TaskLogLineView {
  return {
    id: line.id,
    attempt: line.attempt,
    level: line.level,
    message: line.message,
    fields: typeof line.fields === 'string' ? (JSON.parse(line.fields) as Record<string, unknown>) : line.fields,
    loggedAt: line.loggedAt.toISOString(),
  };
}
