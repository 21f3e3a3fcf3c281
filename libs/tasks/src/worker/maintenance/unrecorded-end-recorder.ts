import { Injectable, Logger } from '@nestjs/common';
import type { Job } from 'bullmq';
import { CommitEffectsRelay } from '../../flows/commit-effects.relay';
import { finishedRuns } from '../../retry-policy';
import { LostJobsRepository, type UnfinishedTaskRef } from '../../recovery/lost-jobs.repository';
import { BULLMQ_GAVE_UP, jobSubject, type TaskJobData } from '../../task-job';
import { CompletedJobRetention } from '../completed-job-retention';
import { MAX_ERROR_MESSAGE } from '../task-runner';
import { TaskStateWriter, type TaskStatePatch } from '../task-state-writer';

/**
 * Writes to the ledger the end of a run that only Redis recorded: the worker acknowledged the
 * job and died before its ledger write committed (a completion written behind), or BullMQ
 * failed a job on its own while no worker was there to note it. The row gets what the job
 * holds (result or reason, start and finish times, runs), through the ledger writer, so
 * webhooks and flows hear of it exactly as from a worker; a completed job is then released
 * to Redis' retention. Writing twice (the worker came back and wrote it too) is the same
 * change again.
 */
@Injectable()
export class UnrecordedEndRecorder {
  private readonly logger = new Logger(UnrecordedEndRecorder.name);

  constructor(
    private readonly ledger: LostJobsRepository,
    private readonly writer: TaskStateWriter,
    private readonly effects: CommitEffectsRelay,
    private readonly retention: CompletedJobRetention,
  ) {}

  /** Records the ends of these runs whose rows are still unfinished and untouched since `olderThan`; returns how many. */
  async record(ended: Array<{ ref: UnfinishedTaskRef; job: Job }>, olderThan: Date): Promise<number> {
    const jobs = new Map(ended.map(({ ref, job }) => [ref.id, job as Job<TaskJobData>]));
    const rows = await this.ledger.findStaleUnfinishedByIds([...jobs.keys()], olderThan);
    let recorded = 0;
    for (const row of rows) {
      const job = jobs.get(row.id)!;
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') continue;
      const { tenantId, parentId, onFailure } = job.data;
      const effects = await this.writer.write(row.id, this.endOf(job, state), {
        subject: jobSubject(row.id, job.name, job.data),
        ...(onFailure && parentId ? { flowParent: { id: parentId, tenantId } } : {}),
      });
      await this.effects.apply(effects);
      if (state === 'completed') this.retention.retain(job.queueName, row.id, job.finishedOn!);
      recorded += 1;
      this.logger.warn(
        { taskId: row.id, taskType: row.type, queue: row.queue, was: row.status, now: state },
        'task end recorded from Redis: its worker stopped before the ledger had it',
      );
    }
    return recorded;
  }

  private endOf(job: Job<TaskJobData>, state: 'completed' | 'failed'): TaskStatePatch {
    const times = {
      attempts: finishedRuns(job),
      ...(job.processedOn ? { startedAt: new Date(job.processedOn) } : {}),
      finishedAt: new Date(job.finishedOn!),
    };
    if (state === 'completed') return { status: 'completed', result: job.returnvalue ?? null, error: null, ...times };
    const reason = job.failedReason || 'failed in the queue';
    return {
      status: 'failed',
      error: { code: BULLMQ_GAVE_UP.test(reason) ? 'STALLED' : 'HANDLER_ERROR', message: reason.slice(0, MAX_ERROR_MESSAGE) },
      ...times,
    };
  }
}
