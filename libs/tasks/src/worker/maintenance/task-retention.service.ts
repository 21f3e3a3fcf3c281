import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { FilesService } from '@conveyor/files';
import { LedgerMaintenanceRepository, type FinishedTaskRef } from './ledger-maintenance.repository';
import { MaintenanceLock } from './maintenance-lock';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { RegisteredQueues } from './registered-queues';

const BATCH_SIZE = 500;

export interface PurgeReport {
  /** false when another process held the lock and this call did nothing. */
  ran: boolean;
  deleted: number;
  /** Rows deleted per DELETE statement, in order. */
  batches: number[];
  /** Uploads removed for age (task outputs are removed with their tasks and not counted here). */
  filesDeleted: number;
}

/**
 * Deletes finished tasks (completed, failed, cancelled, expired) that finished more than
 * TASK_TTL_SECONDS ago, every RETENTION_INTERVAL_MS, in one worker at a time. Ids are
 * selected first through the (status, finished_at) index and deleted 500 per statement, so
 * each statement is short and locks few rows; the delete re-checks the condition, so a task
 * retried in between stays.
 */
@Injectable()
export class TaskRetention implements OnApplicationBootstrap {
  private readonly logger = new Logger(TaskRetention.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerMaintenanceRepository,
    private readonly queues: RegisteredQueues,
    private readonly lock: MaintenanceLock,
    private readonly scheduler: MaintenanceScheduler,
    // Present when the process stores files: task outputs and old uploads go with the tasks.
    @Optional() private readonly files?: FilesService,
  ) {}

  onApplicationBootstrap(): void {
    this.scheduler.every('retention', this.config.maintenance.retentionIntervalMs, (signal) => this.purgeOnce({ signal }));
  }

  /** One purge; `finishedBefore` overrides now − TASK_TTL_SECONDS (tests: the schema's minimum TTL is 60 s). */
  async purgeOnce(options: { finishedBefore?: Date; signal?: AbortSignal } = {}): Promise<PurgeReport> {
    const cutoff = options.finishedBefore ?? new Date(Date.now() - this.config.tasks.ttlSeconds * 1000);
    const run = await this.lock.runExclusive('retention', (signal) => this.purge(cutoff, signal), { signal: options.signal });
    if (!run.ran) return { ran: false, deleted: 0, batches: [], filesDeleted: 0 };
    if (run.result.deleted > 0) this.logger.log({ ...run.result, finishedBefore: cutoff.toISOString() }, 'retention purge done');
    return run.result;
  }

  private async purge(cutoff: Date, signal: AbortSignal): Promise<PurgeReport> {
    const report: PurgeReport = { ran: true, deleted: 0, batches: [], filesDeleted: 0 };
    for (;;) {
      signal.throwIfAborted();
      const batch = await this.ledger.findFinishedBefore(cutoff, BATCH_SIZE);
      if (batch.length === 0) break;
      const ids = batch.map((task) => task.id);
      const deleted = await this.ledger.deleteFinished(ids, cutoff);
      report.deleted += deleted;
      report.batches.push(deleted);
      // A row that changed between select and delete (retried) stayed, and so must its job.
      const kept = deleted < ids.length ? new Set(await this.ledger.findExistingIds(ids)) : new Set<string>();
      const purged = batch.filter((task) => !kept.has(task.id));
      await this.removeJobs(purged);
      await this.files?.remove(await this.files.findForTasks(purged.map((task) => task.id)));
      if (batch.length < BATCH_SIZE) break;
    }
    if (this.files) {
      for (
        let uploads = await this.files.findUploadsBefore(cutoff, BATCH_SIZE);
        uploads.length > 0;
        uploads = await this.files.findUploadsBefore(cutoff, BATCH_SIZE)
      ) {
        signal.throwIfAborted();
        await this.files.remove(uploads);
        report.filesDeleted += uploads.length;
        if (uploads.length < BATCH_SIZE) break;
      }
    }
    return report;
  }

  /**
   * Usually the jobs are long gone (Redis keeps finished jobs for hours, the ledger for days);
   * removing one that is not there is a no-op, and BullMQ answers alike either way, so nothing
   * is counted. A failure is only logged: the rows are the record, and leftover jobs expire by
   * the age limits they were added with.
   */
  private async removeJobs(tasks: FinishedTaskRef[]): Promise<void> {
    const results = await Promise.allSettled(tasks.map((task) => this.queues.get(task.queue)?.remove(task.id) ?? Promise.resolve(0)));
    const failed = results.filter((result) => result.status === 'rejected');
    if (failed.length > 0) {
      this.logger.warn({ err: failed[0].reason as unknown, jobs: failed.length }, 'could not remove the jobs of purged tasks; they expire by themselves');
    }
  }
}
