import type { TaskEntity } from '@conveyor/tasks';
import type { ScheduleEntity } from '../schedule.entity';
import type { MissedPolicy, OverlapPolicy } from '../schedule-policy';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

/** The task template of a schedule, as shown. */
export class TaskTemplateView {
  type: string;
  payload: Record<string, unknown>;
  priority?: number;
  timeoutMs?: number;
  tags?: string[];
}

/** A schedule as the API shows it. */
export class ScheduleView {
  id: string;
  /** "<task type>:<id>" for a schedule declared in code, else null. */
  key: string | null;
  /** Declared in code (tenant `system`, seen by admin keys): PATCH and DELETE answer 403 SCHEDULE_READ_ONLY. */
  readOnly: boolean;
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  task: TaskTemplateView;
  overlap: OverlapPolicy;
  missed: MissedPolicy;
  catchUpLimit: number;
  startAt: string | null;
  endAt: string | null;
  enabled: boolean;
  paused: boolean;
  /** The next tick; null when paused, disabled or past endAt. */
  nextRunAt: string | null;
  lastTickAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One run of a schedule: the task its tick created. */
export class ScheduleRunView {
  taskId: string;
  /** The tick's nominal time. */
  tick: string | null;
  status: string;
  createdAt: string;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
}

export class ScheduleDetailView extends ScheduleView {
  /** The latest runs, newest first. */
  runs: ScheduleRunView[];
}

export class ScheduleListView {
  schedules: ScheduleView[];
  nextCursor: string | null;
}

/** The task a trigger created (the full task view, as `GET /v1/tasks/:id` shows it). */
export class TriggeredTaskView {
  id: string;
  type: string;
  status: string;
  scheduleId: string | null;
  scheduledTick: string | null;
  createdAt: string;
}

export function toScheduleView(schedule: ScheduleEntity): ScheduleView {
  const active = schedule.enabled && !schedule.paused;
  return {
    id: schedule.id,
    key: schedule.key,
    readOnly: schedule.key !== null,
    cron: schedule.cron,
    everyMs: schedule.everyMs,
    timezone: schedule.timezone,
    task: schedule.task,
    overlap: schedule.overlap,
    missed: schedule.missed,
    catchUpLimit: schedule.catchUpLimit,
    startAt: iso(schedule.startAt),
    endAt: iso(schedule.endAt),
    enabled: schedule.enabled,
    paused: schedule.paused,
    nextRunAt: active ? iso(schedule.nextRunAt) : null,
    lastTickAt: iso(schedule.lastTickAt),
    createdAt: schedule.createdAt.toISOString(),
    updatedAt: schedule.updatedAt.toISOString(),
  };
}

export function toScheduleRunView(task: TaskEntity): ScheduleRunView {
  return {
    taskId: task.id,
    tick: iso(task.scheduleTick),
    status: task.status,
    createdAt: task.createdAt.toISOString(),
    finishedAt: iso(task.finishedAt),
    error: task.error ? { code: task.error.code, message: task.error.message } : null,
  };
}
