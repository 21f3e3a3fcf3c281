import type { FlowPolicy } from '../ledger/flow-policy';
import type { TaskEntity } from '../ledger/task.entity';
import type { TaskStatus } from '../ledger/task-status';

/** A task cancelled by a commit on the flow's behalf: its job must go, or its worker be told. */
export interface CancelledTask {
  id: string;
  queue: string;
  /** Its edge's policy; null for a flow's root. */
  onFailure: FlowPolicy | null;
}

/**
 * What a ledger commit leaves to do in Redis once it is over. The ledger is the outbox: each of
 * these is already true in SQL, and a process that dies before doing it leaves nothing lost
 * (the reconciler adds the job of any queued row Redis lacks; a cancelled row's late run
 * writes nothing).
 */
export interface CommitEffects {
  /** Rows that now wait for their job: follow-ups just written, flow parents just released. */
  queue: TaskEntity[];
  /** Flow nodes cancelled by the commit (a root cancelled, or `cancel-siblings`). */
  cancelled: CancelledTask[];
  /** The terminal status of each flow whose root the commit ended (for metrics). */
  flowsFinished: TaskStatus[];
}

export function noCommitEffects(): CommitEffects {
  return { queue: [], cancelled: [], flowsFinished: [] };
}

/** Whether a commit left anything to do: most commits (a plain task's end) leave nothing. */
export function hasCommitEffects(effects: CommitEffects): boolean {
  return effects.queue.length > 0 || effects.cancelled.length > 0 || effects.flowsFinished.length > 0;
}
