import { DiscoveryService } from '@nestjs/core';

/**
 * Something that keeps records of its own beside tasks and must go when they go. The retention
 * purge (the `system.retention` task) calls every participant it finds: the tasks core does not
 * know which libs keep what, so a lib that stores per-task data registers here instead of being
 * imported by the core.
 */
export interface TaskPurgeParticipant {
  /** Deletes what belongs to these tasks; called after their ledger rows went. */
  tasksPurged(taskIds: string[]): Promise<void>;
  /**
   * Deletes the participant's own records older than `cutoff` that belong to no task (uploads,
   * say), checking `signal` between batches; returns how many went.
   */
  purgeBefore?(cutoff: Date, signal: AbortSignal): Promise<number>;
}

/** Marks a provider as a {@link TaskPurgeParticipant}; the worker's retention finds it by this. */
export const PurgeParticipant = DiscoveryService.createDecorator<void>();
