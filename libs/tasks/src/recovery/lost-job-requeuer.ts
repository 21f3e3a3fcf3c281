import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import type { TaskEntity } from '../ledger/task.entity';
import { attemptsUsed, finishedRuns } from '../retry-policy';
import { jobForTask } from '../task-job';
import { LostJobsRepository, type UnfinishedTaskRef } from './lost-jobs.repository';
import { RegisteredQueues } from './registered-queues';

/** Row states that wait for a run (the worker has not started one). */
const WAITING: ReadonlySet<string> = new Set(['queued', 'scheduled', 'retrying']);
/** A schedule blocked by more unfinished runs than this is checked this many at a time. */
const RUNS_CHECKED = 50;
export const REQUEUE_REASON_JOB_MISSING = 'job_missing';

export interface RequeueReport {
  missing: number;
  requeued: number;
  /** Runs Redis finished that the ledger never heard of (a worker died between acknowledging and writing): for the reconciler to record. */
  endedUnrecorded: Array<{ ref: UnfinishedTaskRef; job: Job }>;
}

/** What a row's BullMQ job says about the run the row waits for or runs. */
export type JobVerdict = 'present' | 'missing' | 'ended-unrecorded';

/**
 * Judges an unfinished row by its job. No job: missing. A job not finished: present. A
 * finished job is a run that ended: the one an `active` row runs, or a waiting row's if the
 * job counts more runs than the row (a completion acknowledged before the ledger wrote it, the
 * worker gone since); otherwise it is an earlier run (a retry whose new job never reached
 * Redis leaves the old one under the same id), and no run of this row is coming: missing.
 */
export function judgeJob(row: Pick<TaskEntity, 'status' | 'attempts'>, job: Job | undefined): JobVerdict {
  if (!job) return 'missing';
  if (!job.finishedOn) return 'present';
  if (!WAITING.has(row.status) || finishedRuns(job) > row.attempts) return 'ended-unrecorded';
  return 'missing';
}

/**
 * Puts back into Redis the jobs of unfinished ledger rows whose job is gone (a Redis flush, a
 * failover that lost data, eviction), or, for a waiting row, exists only as a finished earlier
 * run. Only rows unchanged for RECONCILE_MIN_AGE_MS are touched, so an enqueue still under way
 * (row written, job not yet added) is never mistaken for a lost one; the row is claimed by a
 * compare-and-set before the add, so two processes never both re-add it. The reconciler runs
 * it over the whole ledger; the schedule runner over the runs that block a schedule's tick,
 * which is how the reconciler's own lost run is recovered: it cannot re-add itself.
 */
@Injectable()
export class LostJobRequeuer {
  private readonly logger = new Logger(LostJobRequeuer.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LostJobsRepository,
    private readonly queues: RegisteredQueues,
    private readonly registry: TaskTypeRegistry,
    private readonly metrics: TaskMetrics,
  ) {}

  /** Rows untouched since then are old enough to be judged. */
  safeAge(now = Date.now()): Date {
    return new Date(now - this.config.maintenance.reconcileMinAgeMs);
  }

  /**
   * Checks these rows' jobs and re-queues the rows whose job is gone; rows of queues this
   * process does not register are left alone. Runs that ended in Redis unrecorded are
   * returned, not touched: recording them takes the worker's ledger writer.
   */
  async requeueLost(refs: readonly UnfinishedTaskRef[], olderThan: Date): Promise<RequeueReport> {
    const known = refs.filter((ref) => this.queues.get(ref.queue));
    const jobs = await Promise.all(known.map((ref) => this.queues.get(ref.queue)!.getJob(ref.id)));
    const verdicts = known.map((ref, index) => judgeJob(ref, jobs[index]));
    const missing = known.filter((_, index) => verdicts[index] === 'missing').map((ref) => ref.id);
    const report: RequeueReport = {
      missing: missing.length,
      requeued: 0,
      endedUnrecorded: known.flatMap((ref, index) => (verdicts[index] === 'ended-unrecorded' ? [{ ref, job: jobs[index]! }] : [])),
    };
    // Re-read after asking Redis: a job that finished and was removed meanwhile has a
    // terminal row by now (Redis keeps a completed job until the ledger has its end).
    for (const row of await this.ledger.findStaleUnfinishedByIds(missing, olderThan)) {
      if (await this.requeue(row, olderThan)) report.requeued += 1;
    }
    return report;
  }

  /** The runs of a schedule that block its next tick (overlap), checked as above. */
  async requeueLostRunsOf(scheduleId: string): Promise<RequeueReport> {
    const olderThan = this.safeAge();
    return this.requeueLost(await this.ledger.findStaleUnfinishedRuns(scheduleId, olderThan, RUNS_CHECKED), olderThan);
  }

  private async requeue(row: TaskEntity, olderThan: Date): Promise<boolean> {
    const definition = this.registry.get(row.type);
    if (!definition) {
      this.logger.warn({ taskId: row.id, taskType: row.type }, 'job missing for a task type this process does not know; left alone');
      return false;
    }
    const now = new Date();
    const job = jobForTask({ ...row, attempts: attemptsUsed(row) }, now.getTime());
    // The budget leaves out a run that never ended; the count of starts keeps it (see attemptNumber).
    if (row.attempts > 0) job.data.attemptOffset = row.attempts;
    const status = (job.opts.delay ?? 0) > 0 ? 'scheduled' : 'queued';
    // The row is marked first, so a worker that picks the new job up at once writes over it,
    // never the other way round; if the add then fails, a later check after the safety age retries.
    if (!(await this.ledger.claimForRequeue(row, olderThan, status, now))) return false;
    const queue = this.queues.get(row.queue)!;
    // A finished job left under this id would make BullMQ ignore the add.
    await queue.remove(row.id);
    await queue.add(job.name, job.data, job.opts);
    this.metrics.requeued(row.type, row.queue, REQUEUE_REASON_JOB_MISSING);
    this.logger.warn(
      { taskId: row.id, taskType: row.type, queue: row.queue, was: row.status, now: status, attemptsLeft: job.opts.attempts, delayMs: job.opts.delay },
      'task re-queued: its BullMQ job had vanished from Redis',
    );
    return true;
  }
}
