import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../../contracts/task-type.registry';
import { FlowSweeper } from '../../flows/flow-sweeper';
import type { TaskEntity } from '../../ledger/task.entity';
import { jobForTask } from '../../task-job';
import { LedgerMaintenanceRepository } from './ledger-maintenance.repository';
import { MaintenanceLock } from './maintenance-lock';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { RegisteredQueues } from './registered-queues';

const PAGE_SIZE = 500;
/** Row states that wait for a run (the worker has not started one). */
const WAITING: ReadonlySet<string> = new Set(['queued', 'scheduled', 'retrying']);
export const REQUEUE_REASON_JOB_MISSING = 'job_missing';

export interface ReconcileReport {
  /** false when another process held the lock and this call did nothing. */
  ran: boolean;
  scanned: number;
  missing: number;
  requeued: number;
  /** Flow parents the sweep settled (see FlowSweeper). */
  flowsSettled: number;
}

/**
 * Attempts a row has used up. An attempt that never finished does not count, as BullMQ does
 * not count a stalled run: the one an `active` row was running when its job vanished, or the
 * one a shutdown interrupted (`queued` with INTERRUPTED). Any other attempt has ended (a
 * `retrying` row's last one failed; a retried task keeps its finished ones).
 */
export function attemptsUsed(row: Pick<TaskEntity, 'status' | 'attempts' | 'error'>): number {
  const unfinished = row.status === 'active' || (row.status === 'queued' && row.error?.code === 'INTERRUPTED');
  return unfinished ? Math.max(0, row.attempts - 1) : row.attempts;
}

/**
 * Puts back into Redis the tasks the ledger still expects to run (queued, scheduled,
 * retrying, active) whose BullMQ job no longer exists, or (for a waiting row) exists only as
 * a finished earlier run: after a Redis flush, a failover that
 * lost data, or eviction. Runs in one worker at a time (Redis lock), every
 * RECONCILE_INTERVAL_MS, and only looks at rows unchanged for RECONCILE_MIN_AGE_MS, so an
 * enqueue still under way (row written, job not yet added) is never mistaken for a lost one.
 */
@Injectable()
export class TaskReconciler implements OnApplicationBootstrap {
  private readonly logger = new Logger(TaskReconciler.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerMaintenanceRepository,
    private readonly queues: RegisteredQueues,
    private readonly registry: TaskTypeRegistry,
    private readonly lock: MaintenanceLock,
    private readonly scheduler: MaintenanceScheduler,
    private readonly metrics: TaskMetrics,
    private readonly flows: FlowSweeper,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.every('reconcile', this.config.maintenance.reconcileIntervalMs, (signal) => this.reconcileOnce({ signal }));
  }

  /** One pass over the ledger; `olderThan` overrides the safety age (tests). */
  async reconcileOnce(options: { olderThan?: Date; signal?: AbortSignal } = {}): Promise<ReconcileReport> {
    const olderThan = options.olderThan ?? new Date(Date.now() - this.config.maintenance.reconcileMinAgeMs);
    const run = await this.lock.runExclusive('reconcile', (signal) => this.pass(olderThan, signal), { signal: options.signal });
    if (!run.ran) {
      this.logger.debug({ heldBy: run.heldBy }, 'reconciler skipped: another process runs it');
      return { ran: false, scanned: 0, missing: 0, requeued: 0, flowsSettled: 0 };
    }
    if (run.result.missing > 0 || run.result.flowsSettled > 0) this.logger.log(run.result, 'reconciler pass done');
    return run.result;
  }

  private async pass(olderThan: Date, signal: AbortSignal): Promise<ReconcileReport> {
    const report: ReconcileReport = { ran: true, scanned: 0, missing: 0, requeued: 0, flowsSettled: 0 };
    let afterId: string | null = null;
    for (;;) {
      signal.throwIfAborted();
      const page = await this.ledger.findStaleUnfinished(this.queues.names(), olderThan, afterId, PAGE_SIZE);
      if (page.length === 0) break;
      report.scanned += page.length;
      afterId = page[page.length - 1].id;
      const jobs = await Promise.all(page.map((ref) => this.queues.get(ref.queue)!.getJob(ref.id)));
      // Gone, or finished while the row waits for a run: a retry whose new add never reached
      // Redis leaves the earlier run's finished job under the same id, and BullMQ would take
      // a re-add of that id for a duplicate. Either way no run of this row is coming.
      const missing = page.filter((ref, index) => !jobs[index] || (jobs[index].finishedOn && WAITING.has(ref.status))).map((ref) => ref.id);
      report.missing += missing.length;
      // Re-read after asking Redis: a job that finished and was removed meanwhile has a
      // terminal row by now (workers record the end before they acknowledge the job).
      for (const row of await this.ledger.findStaleUnfinishedByIds(missing, olderThan)) {
        if (await this.requeue(row, olderThan)) report.requeued += 1;
      }
      if (page.length < PAGE_SIZE) break;
    }
    signal.throwIfAborted();
    report.flowsSettled = await this.flows.sweep(olderThan);
    return report;
  }

  private async requeue(row: TaskEntity, olderThan: Date): Promise<boolean> {
    const definition = this.registry.get(row.type);
    if (!definition) {
      this.logger.warn({ taskId: row.id, taskType: row.type }, 'job missing for a task type this worker does not know; left alone');
      return false;
    }
    const now = new Date();
    const job = jobForTask({ ...row, attempts: attemptsUsed(row) }, definition, now.getTime());
    // The budget leaves out a run that never ended; the count of starts keeps it (see attemptNumber).
    if (row.attempts > 0) job.data.attemptOffset = row.attempts;
    const status = (job.opts.delay ?? 0) > 0 ? 'scheduled' : 'queued';
    // The row is marked first, so a worker that picks the new job up at once writes over it,
    // never the other way round; if the add then fails, the next pass after the safety age retries.
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
