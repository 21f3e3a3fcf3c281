import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { isUniqueViolation } from '@conveyor/database';
import { DomainError } from '@conveyor/errors';
import { inSpan, SpanKind, TaskMetrics } from '@conveyor/observability';
import { JobRelay, LostJobRequeuer, TaskFactory, TaskLedgerService, type PreparedTask } from '@conveyor/tasks';
import { templateRequest } from '../schedule-definitions';
import { timingOf, type ScheduleEntity } from '../schedule.entity';
import { ScheduleStore } from '../schedule-store';
import { CLOCK, type Clock } from '../timing/clock';
import { tickAfter, ticksDue } from '../timing/schedule-timing';
import { DeclaredSchedules } from './declared-schedules';
import { overlapRoom, planTicks } from './tick-plan';

/** Whether the app runs the runner when SCHEDULER_ENABLED is unset (on in the worker). */
export const SCHEDULER_DEFAULT_ENABLED = Symbol('conveyor:scheduler-default-enabled');

const PAGE_SIZE = 50;
const MAX_PAGES_PER_PASS = 20;
/** Ticks walked one by one at most; past that (a frequent schedule after long downtime) the walk restarts near now. */
const MAX_TICKS_WALKED = 10_000;
const MAX_BACKOFF_MS = 5000;

export interface RunnerReport {
  schedules: number;
  fired: number;
  duplicate: number;
  overlap: number;
  invalid: number;
  missedDropped: number;
}

/**
 * Fires the due ticks of every schedule. Any number of processes may run it at once, with no
 * leader: for each due schedule it
 *   1. inserts one task row per tick to fire, keyed (schedule_id, schedule_tick): when another
 *      process inserted that tick first, the database refuses the row (counted as duplicate);
 *   2. advances next_run_at with a compare-and-set on the value it read;
 *   3. hands the new rows' jobs to BullMQ.
 * A crash after 1 leaves rows the reconciler queues; a crash before 2 leaves the schedule due,
 * and the retry's rows are refused as duplicates. So each tick yields at most one task, and a
 * tick is only lost when its missed policy drops it.
 * A tick its overlap policy skips has the runs that block it checked: one whose job Redis lost
 * is re-queued here (after RECONCILE_MIN_AGE_MS), so no schedule waits forever on a run that
 * will never come, not even the reconciler's own schedule, whose lost run no pass can re-add.
 */
@Injectable()
export class ScheduleRunner implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ScheduleRunner.name);
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<unknown> | undefined;
  private stopped = false;
  /** Passes failed in a row (database away): the next wake backs off, up to MAX_BACKOFF_MS. */
  private failures = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(SCHEDULER_DEFAULT_ENABLED) private readonly defaultEnabled: boolean,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly store: ScheduleStore,
    private readonly factory: TaskFactory,
    private readonly ledger: TaskLedgerService,
    private readonly relay: JobRelay,
    private readonly metrics: TaskMetrics,
    private readonly declared: DeclaredSchedules,
    private readonly requeuer: LostJobRequeuer,
  ) {}

  get enabled(): boolean {
    return this.config.scheduler.enabled ?? this.defaultEnabled;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.enabled) return;
    await this.declared.reconcile();
    this.logger.log({ intervalMs: this.config.scheduler.intervalMs }, 'schedule runner started');
    this.wake();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.pass;
  }

  private wake(): void {
    if (this.stopped) return;
    const { intervalMs } = this.config.scheduler;
    const delay = this.failures === 0 ? intervalMs : Math.min(MAX_BACKOFF_MS, intervalMs * 2 ** this.failures);
    this.timer = setTimeout(() => {
      this.pass = this.runOnce()
        .then(() => (this.failures = 0))
        .catch((error: unknown) => {
          this.failures += 1;
          if (this.failures === 1 || this.failures % 20 === 0) {
            this.logger.error({ err: error, failures: this.failures }, 'schedule pass failed; retrying with backoff');
          }
        })
        .finally(() => this.wake());
    }, delay);
  }

  /** One pass over the due schedules, page by page. */
  async runOnce(): Promise<RunnerReport> {
    const report: RunnerReport = { schedules: 0, fired: 0, duplicate: 0, overlap: 0, invalid: 0, missedDropped: 0 };
    const seen: string[] = [];
    for (let page = 0; page < MAX_PAGES_PER_PASS && !this.stopped; page++) {
      const now = this.clock.now();
      const due = await this.store.findDue(new Date(now), PAGE_SIZE, seen);
      for (const schedule of due) {
        seen.push(schedule.id);
        report.schedules += 1;
        try {
          // A producer span per firing: the ticks' tasks belong to its trace (ledger, attempts).
          await inSpan(
            'enqueue schedule',
            SpanKind.PRODUCER,
            () => ({ 'conveyor.schedule.id': schedule.id }),
            () => this.fire(schedule, now, report),
          );
        } catch (error) {
          // This schedule stays due; the next pass tries again and the ledger dedupes.
          this.logger.error({ err: error, scheduleId: schedule.id }, 'firing a schedule failed');
        }
      }
      if (due.length < PAGE_SIZE) break;
    }
    return report;
  }

  private async fire(schedule: ScheduleEntity, now: number, report: RunnerReport): Promise<void> {
    const timing = timingOf(schedule);
    const expected = schedule.nextRunAt!;
    const walk = ticksDue(timing, expected.getTime(), now, MAX_TICKS_WALKED);
    let due = walk.ticks;
    let skippedByWalk = 0;
    if (walk.more) {
      // Everything before the grace window is missed anyway; pick the walk up there.
      const restart = tickAfter(timing, now - this.config.scheduler.missedGraceMs - 1);
      skippedByWalk = due.length;
      due = restart === null ? [] : ticksDue(timing, restart, now, MAX_TICKS_WALKED).ticks;
    }
    if (due.length === 0) {
      await this.store.advance(schedule.id, expected, toDate(tickAfter(timing, now)), expected);
      return;
    }
    const plan = planTicks(due, now, this.config.scheduler.missedGraceMs, schedule.missed, schedule.catchUpLimit);
    const missedDropped = plan.missedDropped + skippedByWalk;
    let fire = plan.fire;
    if (fire.length > 0 && schedule.overlap !== 'allow') {
      const room = overlapRoom(schedule.overlap, fire.length, await this.ledger.scheduleBacklog(schedule.id));
      if (room < fire.length) await this.recoverBlockingRuns(schedule);
      this.countSkipped(schedule, 'overlap', fire.slice(0, fire.length - room), report);
      fire = fire.slice(fire.length - room);
    }

    const inserted: PreparedTask[] = [];
    try {
      for (const tick of fire) {
        const prepared = await this.prepare(schedule, tick, report);
        if (prepared && (await this.insertTick(schedule, tick, prepared, report))) inserted.push(prepared);
      }
      const lastTick = due[due.length - 1];
      const advanced = await this.store.advance(schedule.id, expected, toDate(tickAfter(timing, lastTick)), new Date(lastTick));
      // Only the process that advanced the schedule reports the ticks it dropped.
      if (advanced && (plan.missedRun > 0 || missedDropped > 0)) {
        this.metrics.scheduleTicksMissedBy(metricName(schedule), schedule.missed, 'run', plan.missedRun);
        this.metrics.scheduleTicksMissedBy(metricName(schedule), schedule.missed, 'dropped', missedDropped);
        report.missedDropped += missedDropped;
        this.logger.log(
          { scheduleId: schedule.id, policy: schedule.missed, run: plan.missedRun, dropped: missedDropped, since: expected.toISOString() },
          'schedule had missed ticks',
        );
      }
    } finally {
      await this.relayJobs(inserted);
    }
  }

  /** The tick's task, checked against its type's contract again: code may have changed since. */
  private async prepare(schedule: ScheduleEntity, tick: number, report: RunnerReport): Promise<PreparedTask | undefined> {
    try {
      const [prepared] = await this.factory.prepare(schedule.tenantId, [templateRequest(schedule.task)], {
        scheduleId: schedule.id,
        scheduleTick: new Date(tick),
      });
      return prepared;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      report.invalid += 1;
      this.metrics.scheduleTickSkipped(metricName(schedule), 'invalid');
      this.logger.error(
        { scheduleId: schedule.id, tick: new Date(tick).toISOString(), code: error.code, details: error.details },
        'schedule template refused; tick skipped',
      );
      return undefined;
    }
  }

  private async insertTick(schedule: ScheduleEntity, tick: number, prepared: PreparedTask, report: RunnerReport): Promise<boolean> {
    try {
      await this.ledger.insert([prepared.row]);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      report.duplicate += 1;
      this.metrics.scheduleTickSkipped(metricName(schedule), 'duplicate');
      this.logger.debug({ scheduleId: schedule.id, tick: new Date(tick).toISOString() }, 'tick already fired by another process');
      return false;
    }
    report.fired += 1;
    this.metrics.scheduleTickFired(metricName(schedule));
    this.logger.debug({ scheduleId: schedule.id, tick: new Date(tick).toISOString(), taskId: prepared.row.id }, 'schedule tick fired');
    return true;
  }

  private countSkipped(schedule: ScheduleEntity, reason: 'overlap', ticks: number[], report: RunnerReport): void {
    if (ticks.length === 0) return;
    report.overlap += ticks.length;
    this.metrics.scheduleTickSkipped(metricName(schedule), reason, ticks.length);
    for (const tick of ticks) this.logger.debug({ scheduleId: schedule.id, tick: new Date(tick).toISOString() }, 'tick skipped: previous run unfinished');
  }

  /** A failure here only delays the recovery to the next skipped tick (or the reconciler); the tick stays skipped. */
  private async recoverBlockingRuns(schedule: ScheduleEntity): Promise<void> {
    try {
      const { requeued } = await this.requeuer.requeueLostRunsOf(schedule.id);
      if (requeued > 0) this.logger.warn({ scheduleId: schedule.id, requeued }, "re-queued the schedule's unfinished run: its job had vanished from Redis");
    } catch (error) {
      this.logger.warn({ err: error, scheduleId: schedule.id }, 'could not check the jobs of the runs blocking a tick');
    }
  }

  private async relayJobs(inserted: PreparedTask[]): Promise<void> {
    if (inserted.length === 0) return;
    const outcomes = await this.relay.add(inserted);
    outcomes.forEach((outcome, index) => {
      if (outcome === 'added') return;
      const { row } = inserted[index];
      this.logger.warn(
        { scheduleId: row.scheduleId, tick: row.scheduleTick?.toISOString(), taskId: row.id, outcome },
        'tick job not confirmed by Redis; the reconciler queues it',
      );
    });
  }
}

/** The schedule's label on the tick metrics: its key when declared in code (the same in every deployment), else its id. */
const metricName = (schedule: ScheduleEntity) => schedule.key ?? schedule.id;

const toDate = (epochMs: number | null) => (epochMs === null ? null : new Date(epochMs));
