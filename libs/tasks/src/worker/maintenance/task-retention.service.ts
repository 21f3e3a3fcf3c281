import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { PurgeParticipant, type TaskPurgeParticipant } from '../../ledger/purge-participant';
import { MAINTENANCE_RUNS_KEPT, MAINTENANCE_TASK_TYPES, type RetentionResult } from '../../maintenance.contract';
import { RegisteredQueues } from '../../recovery/registered-queues';
import { LedgerRetentionRepository, type FinishedTaskRef } from './ledger-retention.repository';

const BATCH_SIZE = 500;

/**
 * One purge, run as the `system.retention` task: deletes finished tasks (completed, failed,
 * cancelled, expired) that finished more than TASK_TTL_SECONDS ago, with their jobs and output
 * participants' records (see TaskPurgeParticipant: output files, …), then the participants' own
 * older records (uploads), then the housekeeping runs beyond the latest
 * MAINTENANCE_RUNS_KEPT of each type. Ids are selected first through an index and deleted 500
 * per statement, so each statement is short and locks few rows; the delete re-checks the
 * condition, so a task retried in between stays, and two purges at once only share the work.
 */
@Injectable()
export class TaskRetention implements OnApplicationBootstrap {
  private readonly logger = new Logger(TaskRetention.name);
  private participants: TaskPurgeParticipant[] = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly ledger: LedgerRetentionRepository,
    private readonly queues: RegisteredQueues,
    private readonly discovery: DiscoveryService,
  ) {}

  onApplicationBootstrap(): void {
    this.participants = this.discovery
      .getProviders({ metadataKey: PurgeParticipant.KEY })
      .map((wrapper) => wrapper.instance as TaskPurgeParticipant)
      .filter(Boolean);
  }

  /** `finishedBefore` overrides now − TASK_TTL_SECONDS (tests: the schema's minimum TTL is 60 s); `signal` stops it between batches. */
  async purgeOnce(options: { finishedBefore?: Date; signal?: AbortSignal } = {}): Promise<RetentionResult> {
    const cutoff = options.finishedBefore ?? new Date(Date.now() - this.config.tasks.ttlSeconds * 1000);
    const signal = options.signal ?? new AbortController().signal;
    const report: RetentionResult = { deleted: 0, batches: [], maintenanceRunsDeleted: 0, filesDeleted: 0 };
    await this.inBatches(
      signal,
      () => this.ledger.findFinishedBefore(cutoff, BATCH_SIZE),
      cutoff,
      (deleted) => {
        report.deleted += deleted;
        report.batches.push(deleted);
      },
    );
    for (const participant of this.participants) report.filesDeleted += (await participant.purgeBefore?.(cutoff, signal)) ?? 0;
    for (const { type } of MAINTENANCE_TASK_TYPES) {
      const oldestKept = await this.ledger.oldestKeptRun(type, MAINTENANCE_RUNS_KEPT);
      if (!oldestKept) continue;
      await this.inBatches(
        signal,
        () => this.ledger.findFinishedRunsBefore(type, oldestKept, BATCH_SIZE),
        undefined,
        (deleted) => {
          report.maintenanceRunsDeleted += deleted;
        },
      );
    }
    if (report.deleted + report.maintenanceRunsDeleted + report.filesDeleted > 0) {
      this.logger.log({ ...report, finishedBefore: cutoff.toISOString() }, 'retention purge done');
    }
    return report;
  }

  /** Deletes what `select` finds, batch after batch, with the jobs and output files of the rows that went. */
  private async inBatches(
    signal: AbortSignal,
    select: () => Promise<FinishedTaskRef[]>,
    cutoff: Date | undefined,
    counted: (deleted: number) => void,
  ): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const batch = await select();
      if (batch.length === 0) break;
      const ids = batch.map((task) => task.id);
      const deleted = await this.ledger.deleteFinished(ids, cutoff);
      counted(deleted);
      // A row that changed between select and delete (retried) stayed, and so must its job.
      const kept = deleted < ids.length ? new Set(await this.ledger.findExistingIds(ids)) : new Set<string>();
      const purged = batch.filter((task) => !kept.has(task.id));
      await this.removeJobs(purged);
      const purgedIds = purged.map((task) => task.id);
      for (const participant of this.participants) await participant.tasksPurged(purgedIds);
      if (batch.length < BATCH_SIZE) break;
    }
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
