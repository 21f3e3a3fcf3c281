import { Injectable, Logger, Optional } from '@nestjs/common';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { JobRelay } from '../intake/job-relay';
import { TaskChangeFeed } from '../task-change-feed';
import { jobForTask } from '../task-job';
import { hasCommitEffects, type CommitEffects } from './commit-effects';

/**
 * Carries out in Redis what a ledger commit left to do (see CommitEffects): adds the jobs of
 * rows that now wait for one, and removes the jobs of tasks cancelled on a flow's behalf (or
 * tells the worker running one to stop). Never throws: everything here is already true in the
 * ledger, and what fails is made good by the reconciler (a queued row without a job gets one)
 * or is harmless (a cancelled row's run writes nothing).
 */
@Injectable()
export class CommitEffectsRelay {
  private readonly logger = new Logger(CommitEffectsRelay.name);

  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly relay: JobRelay,
    private readonly metrics: TaskMetrics,
    @Optional() private readonly feed?: TaskChangeFeed,
  ) {}

  async apply(effects: CommitEffects): Promise<void> {
    // Every task's end comes through here; a plain one left nothing to do.
    if (!hasCommitEffects(effects)) return;
    for (const status of effects.flowsFinished) this.metrics.flowFinished(status);
    for (const { onFailure } of effects.cancelled) if (onFailure) this.metrics.flowChildFailed(onFailure);
    // Flow nodes the commit released or cancelled changed too: their event streams hear of it.
    this.feed?.publish([
      ...effects.queue.filter((row) => row.onFailure !== null || row.rootId === row.id).map((row) => row.id),
      ...effects.cancelled.map((task) => task.id),
    ]);
    await Promise.all([this.queue(effects), this.cancel(effects)]);
  }

  private async queue({ queue: rows }: CommitEffects): Promise<void> {
    if (rows.length === 0) return;
    const prepared = rows.flatMap((row) => {
      const definition = this.registry.get(row.type);
      return definition ? [{ row, job: jobForTask(row) }] : [];
    });
    const outcomes = await this.relay.add(prepared);
    prepared.forEach(({ row }, index) => {
      if (outcomes[index] === 'added') this.metrics.enqueued(row.type, row.queue, 1, row.tenantId);
    });
    const unconfirmed = outcomes.filter((outcome) => outcome !== 'added').length;
    if (unconfirmed > 0)
      this.logger.warn({ tasks: prepared.length, unconfirmed }, 'jobs of released tasks not confirmed by Redis; the reconciler queues any it lacks');
  }

  private async cancel({ cancelled }: CommitEffects): Promise<void> {
    await Promise.all(
      cancelled.map(async ({ id, queue }) => {
        try {
          // remove() refuses (0) while a worker holds the job: that one is told to stop.
          if ((await this.relay.queue(queue).remove(id)) !== 1) await this.relay.signalCancellation(queue, id);
        } catch (error) {
          this.logger.warn({ err: error, taskId: id }, 'could not remove or stop the job of a cancelled flow node; a late run of it records nothing');
        }
      }),
    );
  }
}
