import type { TaskTypeName, TaskTypes } from './task-types.gen.js';
import type { Transport } from './transport.js';
import type { TaskStatus, TaskView } from './types.js';

/** The task each tick creates. */
export type ScheduleTask = {
  [T in TaskTypeName]: { type: T; payload: TaskTypes[T]['payload']; priority?: number; timeoutMs?: number; tags?: string[] };
}[TaskTypeName];

/** Body of `PATCH /v1/schedules/:id`: any field; `null` clears cron, everyMs, startAt, endAt. */
export interface ScheduleChange {
  /** 5 fields, or 6 with seconds first. Exactly one of cron and everyMs. */
  cron?: string | null;
  /** A tick every this many ms (≥ 1000), counted from startAt or the creation. */
  everyMs?: number | null;
  /** IANA zone the cron is read in (default UTC). */
  timezone?: string;
  task?: ScheduleTask;
  overlap?: 'allow' | 'skip' | 'queue-one';
  missed?: 'skip' | 'run-once' | 'catch-up';
  catchUpLimit?: number;
  /** RFC 3339 with an offset. */
  startAt?: string | null;
  endAt?: string | null;
  enabled?: boolean;
}

/** Body of `POST /v1/schedules`. */
export type ScheduleRequest = ScheduleChange & { task: ScheduleTask };

/** A schedule as the API shows it. */
export interface Schedule {
  id: string;
  /** "<task type>:<id>" for one declared in code, else null. */
  key: string | null;
  /** Declared in code: update and delete answer ConveyorAuthError SCHEDULE_READ_ONLY. */
  readOnly: boolean;
  cron: string | null;
  everyMs: number | null;
  timezone: string;
  task: { type: string; payload: Record<string, unknown>; priority?: number; timeoutMs?: number; tags?: string[] };
  overlap: 'allow' | 'skip' | 'queue-one';
  missed: 'skip' | 'run-once' | 'catch-up';
  catchUpLimit: number;
  startAt: string | null;
  endAt: string | null;
  enabled: boolean;
  paused: boolean;
  /** Null when paused, disabled or past endAt. */
  nextRunAt: string | null;
  lastTickAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** `GET /v1/schedules/:id`: the schedule with its latest runs, newest first. */
export interface ScheduleDetail extends Schedule {
  runs: Array<{
    taskId: string;
    tick: string | null;
    status: TaskStatus;
    createdAt: string;
    finishedAt: string | null;
    error: { code: string; message: string } | null;
  }>;
}

const schedulePath = (id: string) => `/v1/schedules/${encodeURIComponent(id)}`;

/** `client.schedules`: tasks created on a cron or an interval. */
export class SchedulesApi {
  constructor(private readonly transport: Transport) {}

  /** Not retried after a network failure: the route takes no idempotency key, and a second call would make a second schedule. */
  async create(schedule: ScheduleRequest): Promise<Schedule> {
    return (await this.transport.request<Schedule>('POST', '/v1/schedules', { body: schedule, idempotent: false })).body;
  }

  async get(id: string): Promise<ScheduleDetail> {
    return (await this.transport.request<ScheduleDetail>('GET', schedulePath(id), { idempotent: true })).body;
  }

  /** One page; pass `nextCursor` back as `cursor`. */
  async listPage(options: { limit?: number; cursor?: string } = {}): Promise<{ schedules: Schedule[]; nextCursor: string | null }> {
    return (await this.transport.request<{ schedules: Schedule[]; nextCursor: string | null }>('GET', '/v1/schedules', { query: options, idempotent: true }))
      .body;
  }

  /** Every schedule of the key's tenant, a page at a time as you iterate. */
  async *list(options: { limit?: number } = {}): AsyncGenerator<Schedule> {
    let cursor: string | undefined;
    do {
      const page = await this.listPage({ ...options, cursor });
      yield* page.schedules;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** ConveyorConflictError SCHEDULE_CHANGED when it changed meanwhile: read it and send again. */
  async update(id: string, change: ScheduleChange): Promise<Schedule> {
    return (await this.transport.request<Schedule>('PATCH', schedulePath(id), { body: change, idempotent: true })).body;
  }

  /** Its tasks stay in the ledger. Not retried: a second call after a lost answer would say "not found". */
  async delete(id: string): Promise<void> {
    await this.transport.request<void>('DELETE', schedulePath(id), { idempotent: false });
  }

  async pause(id: string): Promise<Schedule> {
    return (await this.transport.request<Schedule>('POST', `${schedulePath(id)}/pause`, { idempotent: true })).body;
  }

  /** From now: the ticks of the pause are not run. */
  async resume(id: string): Promise<Schedule> {
    return (await this.transport.request<Schedule>('POST', `${schedulePath(id)}/resume`, { idempotent: true })).body;
  }

  /** One extra run now, an ordinary task (ConveyorConflictError SCHEDULE_TICK_TAKEN if one exists for this instant). */
  async trigger(id: string): Promise<TaskView> {
    return (await this.transport.request<TaskView>('POST', `${schedulePath(id)}/trigger`, { idempotent: false })).body;
  }
}
