import { Injectable } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { parseInstant, TaskFactory, type TaskRequest } from '@conveyor/tasks';
import { DEFAULT_CATCH_UP_LIMIT, type MissedPolicy, type OverlapPolicy, type TaskTemplate } from './schedule-policy';
import { cronProblem, isTimezone, MIN_EVERY_MS } from './timing/schedule-timing';

/** A schedule as a client (or a task type's code) describes it; absent fields keep their value. */
export interface ScheduleInput {
  cron?: string | null;
  everyMs?: number | null;
  timezone?: string;
  task?: TaskTemplate;
  overlap?: OverlapPolicy;
  missed?: MissedPolicy;
  catchUpLimit?: number;
  /** RFC 3339 with an offset, or null to clear. */
  startAt?: string | null;
  endAt?: string | null;
  enabled?: boolean;
}

/** The stored fields of a schedule that a client sets. */
export interface ScheduleFields {
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  task: TaskTemplate;
  overlap: OverlapPolicy;
  missed: MissedPolicy;
  catchUpLimit: number;
  startAt: Date | null;
  endAt: Date | null;
  enabled: boolean;
}

export function templateRequest(task: TaskTemplate): TaskRequest {
  return { type: task.type, payload: task.payload, priority: task.priority, timeoutMs: task.timeoutMs, tags: task.tags };
}

const invalid = (code: string, field: string, message: string) => DomainError.invalid(code, message, [{ field, message }]);

/**
 * Checks a schedule (new, or an existing one with changes) the way its ticks will be checked:
 * one of cron or everyMs, a cron cron-parser reads with 5 or 6 fields, a zone the runtime
 * knows, everyMs at least MIN_EVERY_MS, endAt after startAt, and a task template the task
 * factory accepts now (known type, valid payload), so a schedule never stores a template
 * that every tick would refuse.
 */
@Injectable()
export class ScheduleDefinitions {
  constructor(private readonly factory: TaskFactory) {}

  async resolve(tenantId: string, input: ScheduleInput, current?: ScheduleFields): Promise<ScheduleFields> {
    const timingGiven = input.cron !== undefined || input.everyMs !== undefined;
    const cron = timingGiven ? (input.cron ?? null) : (current?.cron ?? null);
    const everyMs = timingGiven ? (input.everyMs ?? null) : (current?.everyMs ?? null);
    if ((cron === null) === (everyMs === null)) {
      throw invalid('VALIDATION_FAILED', 'cron', 'Give exactly one of cron and everyMs');
    }
    const timezone = input.timezone ?? current?.timezone ?? 'UTC';
    if (!isTimezone(timezone)) throw invalid('INVALID_TIMEZONE', 'timezone', `"${timezone}" is not an IANA time zone`);
    if (cron !== null) {
      const problem = cronProblem(cron, timezone);
      if (problem) throw invalid('INVALID_CRON', 'cron', `Invalid cron expression: ${problem}`);
    }
    if (everyMs !== null && everyMs < MIN_EVERY_MS) {
      throw invalid('SCHEDULE_TOO_FREQUENT', 'everyMs', `everyMs must be at least ${MIN_EVERY_MS}`);
    }
    const startAt = input.startAt === undefined ? (current?.startAt ?? null) : input.startAt === null ? null : new Date(parseInstant(input.startAt)!);
    const endAt = input.endAt === undefined ? (current?.endAt ?? null) : input.endAt === null ? null : new Date(parseInstant(input.endAt)!);
    if (startAt && endAt && endAt.getTime() <= startAt.getTime()) throw invalid('VALIDATION_FAILED', 'endAt', 'endAt must be after startAt');
    const task = input.task ?? current?.task;
    if (!task) throw invalid('VALIDATION_FAILED', 'task', 'task is required');
    await this.checkTemplate(tenantId, task);
    return {
      cron: cron?.trim() ?? null,
      everyMs,
      timezone,
      task,
      overlap: input.overlap ?? current?.overlap ?? 'allow',
      missed: input.missed ?? current?.missed ?? 'skip',
      catchUpLimit: input.catchUpLimit ?? current?.catchUpLimit ?? DEFAULT_CATCH_UP_LIMIT,
      startAt,
      endAt,
      enabled: input.enabled ?? current?.enabled ?? true,
    };
  }

  /** The factory's refusal, with its fields under `task.` as the client sent them. */
  private async checkTemplate(tenantId: string, task: TaskTemplate): Promise<void> {
    try {
      await this.factory.prepare(tenantId, [templateRequest(task)]);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const details = error.details?.map((detail) => ({ ...detail, field: detail.field ? `task.${detail.field}` : 'task' }));
      throw error.withDetails(details);
    }
  }
}
