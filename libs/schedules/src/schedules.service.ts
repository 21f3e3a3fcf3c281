import { Inject, Injectable, Logger } from '@nestjs/common';
import { uuidv7 } from 'uuidv7';
import { isUniqueViolation } from '@conveyor/database';
import { DomainError } from '@conveyor/errors';
import { JobRelay, TaskFactory, TaskLedgerService, type TaskEntity } from '@conveyor/tasks';
import { ScheduleDefinitions, templateRequest, type ScheduleFields, type ScheduleInput } from './schedule-definitions';
import { ScheduleEntity, timingOf } from './schedule.entity';
import { ScheduleStore } from './schedule-store';
import { CLOCK, type Clock } from './timing/clock';
import { tickAfter } from './timing/schedule-timing';

export function scheduleNotFound(): DomainError {
  return DomainError.notFound('SCHEDULE_NOT_FOUND', 'No such schedule');
}

/** The tenant, or the tenants, whose schedules a caller may reach (an admin: its own and the system's). */
export type TenantScope = string | readonly string[];
const tenantsOf = (scope: TenantScope): readonly string[] => (typeof scope === 'string' ? [scope] : scope);

/** A schedule declared in code is changed in code (or config), never through the API. */
function refuseDeclared(schedule: ScheduleEntity): void {
  if (schedule.key !== null) {
    throw DomainError.forbidden(
      'SCHEDULE_READ_ONLY',
      `Schedule ${schedule.key} is declared in code: change it there (or its config key); pause, resume and trigger still work`,
    );
  }
}

const scheduleChanged = () => DomainError.conflict('SCHEDULE_CHANGED', 'The schedule changed while this request was applied; send it again');

/** Reads and tries an edit this many times before answering SCHEDULE_CHANGED. */
const EDIT_ATTEMPTS = 5;

const TIMING_FIELDS = ['cron', 'everyMs', 'timezone', 'startAt', 'endAt'] as const;

const sameValue = (a: unknown, b: unknown) =>
  a instanceof Date || b instanceof Date ? (a as Date | null)?.getTime() === (b as Date | null)?.getTime() : a === b;

/** Creates, changes and reads schedules for the API and for code-declared schedules. */
@Injectable()
export class SchedulesService {
  private readonly logger = new Logger(SchedulesService.name);

  constructor(
    private readonly store: ScheduleStore,
    private readonly definitions: ScheduleDefinitions,
    private readonly factory: TaskFactory,
    private readonly ledger: TaskLedgerService,
    private readonly relay: JobRelay,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(tenantId: string, input: ScheduleInput, key: string | null = null): Promise<ScheduleEntity> {
    const fields = await this.definitions.resolve(tenantId, input);
    const now = new Date(this.clock.now());
    const row = Object.assign(new ScheduleEntity(), {
      id: uuidv7(),
      tenantId,
      key,
      ...fields,
      paused: false,
      nextRunAt: null as Date | null,
      lastTickAt: null,
      createdAt: now,
      updatedAt: now,
    } satisfies ScheduleEntity);
    row.nextRunAt = this.firstTick(row);
    await this.store.insert(row);
    return row;
  }

  async get(scope: TenantScope, id: string): Promise<ScheduleEntity> {
    const schedule = await this.store.findOne(tenantsOf(scope), id);
    if (!schedule) throw scheduleNotFound();
    return schedule;
  }

  /**
   * Applies `input` to the schedule. A change of timing, or re-enabling it, starts the series
   * afresh from now: ticks of a past definition are neither fired nor counted as missed.
   */
  update(scope: TenantScope, id: string, input: ScheduleInput): Promise<ScheduleEntity> {
    return this.onFreshRow(scope, id, async (schedule) => {
      refuseDeclared(schedule);
      return this.apply(schedule, await this.definitions.resolve(schedule.tenantId, input, schedule));
    });
  }

  /** Writes `fields` over `schedule` if nobody changed it since it was read (else SCHEDULE_CHANGED). */
  async apply(schedule: ScheduleEntity, fields: ScheduleFields): Promise<ScheduleEntity> {
    const timingChanged = TIMING_FIELDS.some((name) => !sameValue(fields[name], schedule[name]));
    const reenabled = fields.enabled && !schedule.enabled;
    const next: ScheduleEntity = Object.assign(new ScheduleEntity(), schedule, fields, { updatedAt: new Date(this.clock.now()) });
    if (timingChanged || reenabled) next.nextRunAt = this.firstTick(next);
    if (!(await this.store.updateIfUnchanged(schedule, { ...fields, nextRunAt: next.nextRunAt, updatedAt: next.updatedAt }))) throw scheduleChanged();
    return next;
  }

  setPaused(scope: TenantScope, id: string, paused: boolean): Promise<ScheduleEntity> {
    return this.onFreshRow(scope, id, async (schedule) => {
      if (schedule.paused === paused) return schedule;
      const changes: Partial<ScheduleEntity> = { paused, updatedAt: new Date(this.clock.now()) };
      // A resumed schedule goes on from now: the ticks of the pause are not missed ones.
      if (!paused) changes.nextRunAt = this.firstTick(schedule);
      if (!(await this.store.updateIfUnchanged(schedule, changes))) throw scheduleChanged();
      return Object.assign(schedule, changes);
    });
  }

  /**
   * Runs `change` on the current row, again on a fresh read if the row changed meanwhile: the
   * runner advances a busy schedule every tick, which must not turn an edit into a conflict.
   */
  private async onFreshRow(scope: TenantScope, id: string, change: (schedule: ScheduleEntity) => Promise<ScheduleEntity>): Promise<ScheduleEntity> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await change(await this.get(scope, id));
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'SCHEDULE_CHANGED') || attempt === EDIT_ATTEMPTS) throw error;
      }
    }
  }

  async delete(scope: TenantScope, id: string): Promise<void> {
    const schedule = await this.get(scope, id);
    refuseDeclared(schedule);
    if (!(await this.store.delete(schedule.tenantId, id))) throw scheduleNotFound();
  }

  list(scope: TenantScope, limit: number, before?: string): Promise<ScheduleEntity[]> {
    return this.store.list(tenantsOf(scope), limit, before);
  }

  /** The schedule's latest tasks, newest first. */
  runs(schedule: ScheduleEntity, limit: number): Promise<TaskEntity[]> {
    return this.ledger.list({ tenantId: schedule.tenantId, scheduleId: schedule.id, limit });
  }

  /**
   * One extra run now, outside the series: an ordinary tick whose nominal time is now, so the
   * ledger's unique key covers it too. Overlap policies do not apply: it was asked for.
   */
  async trigger(scope: TenantScope, id: string): Promise<TaskEntity> {
    const schedule = await this.get(scope, id);
    const [prepared] = await this.factory.prepare(schedule.tenantId, [templateRequest(schedule.task)], {
      scheduleId: schedule.id,
      scheduleTick: new Date(this.clock.now()),
    });
    try {
      await this.ledger.insert([prepared.row]);
    } catch (error) {
      if (isUniqueViolation(error)) throw DomainError.conflict('SCHEDULE_TICK_TAKEN', 'A run of this schedule already exists for this instant');
      throw error;
    }
    const [outcome] = await this.relay.add([prepared]);
    if (outcome !== 'added')
      this.logger.warn({ scheduleId: schedule.id, taskId: prepared.row.id, outcome }, 'triggered run not confirmed by Redis; the reconciler queues it');
    return prepared.row;
  }

  /** The first tick after now, or null when the series has ended. */
  private firstTick(schedule: ScheduleEntity): Date | null {
    const tick = tickAfter(timingOf(schedule), this.clock.now());
    return tick === null ? null : new Date(tick);
  }
}
