import { Injectable, Logger } from '@nestjs/common';
import { FlowSweeper } from '../../flows/flow-sweeper';
import type { ReconcileResult } from '../../maintenance.contract';
import { LostJobRequeuer } from '../../recovery/lost-job-requeuer';
import { LostJobsRepository } from '../../recovery/lost-jobs.repository';
import { RegisteredQueues } from '../../recovery/registered-queues';
import { UnrecordedEndRecorder } from './unrecorded-end-recorder';

const PAGE_SIZE = 500;

/**
 * One reconciler pass: pages through every unfinished ledger row (queued, scheduled,
 * retrying, active) of this process's queues unchanged for RECONCILE_MIN_AGE_MS, has the
 * requeuer put back those whose BullMQ job is gone, and records the ends Redis has and the
 * ledger missed (a worker that died between acknowledging a completion and writing it). It runs as the `system.reconcile` task.
 * Two passes at once (a stalled run taken over, a manual trigger) are safe: each re-queue is
 * claimed by a compare-and-set on the row, so the second pass only finds less to do.
 */
@Injectable()
export class TaskReconciler {
  private readonly logger = new Logger(TaskReconciler.name);

  constructor(
    private readonly ledger: LostJobsRepository,
    private readonly queues: RegisteredQueues,
    private readonly requeuer: LostJobRequeuer,
    private readonly flows: FlowSweeper,
    private readonly ends: UnrecordedEndRecorder,
  ) {}

  /** `olderThan` overrides the safety age (tests); `signal` stops it between pages. */
  async reconcileOnce(options: { olderThan?: Date; signal?: AbortSignal } = {}): Promise<ReconcileResult> {
    const olderThan = options.olderThan ?? this.requeuer.safeAge();
    const report: ReconcileResult = { scanned: 0, missing: 0, requeued: 0, endsRecorded: 0, flowsSettled: 0 };
    let afterId: string | null = null;
    for (;;) {
      options.signal?.throwIfAborted();
      const page = await this.ledger.findStaleUnfinished(this.queues.names(), olderThan, afterId, PAGE_SIZE);
      if (page.length === 0) break;
      report.scanned += page.length;
      afterId = page[page.length - 1].id;
      const { missing, requeued, endedUnrecorded } = await this.requeuer.requeueLost(page, olderThan);
      report.missing += missing;
      report.requeued += requeued;
      report.endsRecorded += await this.ends.record(endedUnrecorded, olderThan);
      if (page.length < PAGE_SIZE) break;
    }
    options.signal?.throwIfAborted();
    // The safety net of flows rides along: a parent its children left waiting is settled.
    report.flowsSettled = await this.flows.sweep(olderThan);
    if (report.missing > 0 || report.endsRecorded > 0 || report.flowsSettled > 0) this.logger.log(report, 'reconciler pass done');
    return report;
  }
}
