import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { noCommitEffects, type CommitEffects } from '../flows/commit-effects';
import { CommitEffectsRelay } from '../flows/commit-effects.relay';
import { FlowSettler } from '../flows/flow-settler';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { TaskChangeFeed } from '../task-change-feed';
import type { TaskEntity } from '../ledger/task.entity';
import { isTerminal, type TaskError, type TaskStatus } from '../ledger/task-status';
import { TASK_TRANSITION_HOOKS, type TaskTransitionHooks } from '../ledger/task-transition-hooks';
import { maxAttemptsAfterManualRetry } from '../retry-policy';
import { jobForTask } from '../task-job';
import { JobRelay } from '../intake/job-relay';

const WAITING: readonly TaskStatus[] = ['scheduled', 'queued', 'retrying'];
const RETRYABLE: readonly TaskStatus[] = ['failed', 'cancelled', 'expired'];
/** Longest a retry waits for the worker that ran the task to hand its job back to BullMQ. */
const RELEASE_WAIT_MS = 5000;

export type CancelOutcome = 'cancelled' | 'cancelling';

/** Cancel and retry: the task lifecycle operations beyond enqueueing. */
@Injectable()
export class TaskControlService {
  private readonly logger = new Logger(TaskControlService.name);

  constructor(
    private readonly ledger: TaskLedgerService,
    private readonly relay: JobRelay,
    private readonly registry: TaskTypeRegistry,
    private readonly flows: FlowSettler,
    private readonly effects: CommitEffectsRelay,
    @Optional() private readonly feed?: TaskChangeFeed,
    @Optional() @Inject(TASK_TRANSITION_HOOKS) private readonly hooks?: TaskTransitionHooks,
  ) {}

  /**
   * A waiting task (scheduled, queued, retrying) is removed from BullMQ and marked cancelled
   * at once. A running one is signalled: every worker hears the task id on the cancellation
   * channel, the one running it fires the handler's AbortSignal and records `cancelled`.
   * A node of a flow goes with everything under it (see cancelFlowNode).
   */
  async cancel(tenantId: string, id: string): Promise<{ outcome: CancelOutcome; task: TaskEntity }> {
    try {
      return await this.cancelTask(tenantId, id);
    } finally {
      // Its event streams hear of the change (announcing one that did not happen costs a read).
      this.feed?.publish([id]);
    }
  }

  private async cancelTask(tenantId: string, id: string): Promise<{ outcome: CancelOutcome; task: TaskEntity }> {
    const task = await this.require(tenantId, id);
    const flowNode = task.onFailure !== null || (task.rootId !== null && task.rootId === task.id);
    // A flow's root or parent may have ended while nodes under it still run: those are cancelled.
    if (flowNode && isTerminal(task.status)) return this.cancelFlowNode(task);
    if (isTerminal(task.status)) {
      throw DomainError.conflict('TASK_TERMINAL', `The task is already ${task.status}`);
    }
    if (flowNode) return this.cancelFlowNode(task);
    // The ledger first: from here on no worker write, reconciler or retry can revive it.
    const waiting = WAITING.includes(task.status);
    if (waiting) {
      const cancelled = await this.cancelInLedger(task, WAITING, {
        error: { code: 'CANCELLED', message: 'cancelled before it ran' },
        finishedAt: new Date(),
      });
      if (cancelled) {
        let removed: number;
        try {
          removed = await this.relay.queue(task.queue).remove(id);
        } catch (error) {
          // The ledger says cancelled, and that stands (a 503 would invite a retry that meets
          // 409). A job Redis still runs later records nothing: worker writes skip a cancelled row.
          this.logger.warn({ err: error, taskId: id }, 'task cancelled in the ledger; Redis did not confirm the removal of its job');
          return { outcome: 'cancelling', task: (await this.ledger.findOne(tenantId, id))! };
        }
        // remove() refuses (0) while a worker holds the job's lock: it started meanwhile, so
        // it is signalled like any running task and its worker records the end.
        if (removed === 1) return { outcome: 'cancelled', task: (await this.ledger.findOne(tenantId, id))! };
      }
    }
    const job = await this.redis(() => this.relay.queue(task.queue).getJob(id));
    if (!job) {
      // Marked running but its job is gone (its worker and Redis both lost it): nothing to signal.
      await this.cancelInLedger(task, ['active'], {
        error: { code: 'CANCELLED', message: 'cancelled; its job was gone' },
        finishedAt: new Date(),
      });
    } else {
      await this.redis(() => this.relay.signalCancellation(task.queue, id));
    }
    const current = (await this.ledger.findOne(tenantId, id))!;
    if (!waiting && isTerminal(current.status) && current.status !== 'cancelled') {
      throw DomainError.conflict('TASK_TERMINAL', `The task finished meanwhile (${current.status})`);
    }
    return { outcome: 'cancelling', task: current };
  }

  /**
   * The ledger's cancel, with the transition hooks in the same transaction when one listens
   * (a webhook event is written with the state change, or neither is).
   */
  private cancelInLedger(task: TaskEntity, from: readonly TaskStatus[], change: { error: TaskError; finishedAt: Date }): Promise<boolean> {
    const { tenantId, id } = task;
    const transition = {
      taskId: id,
      status: 'cancelled' as const,
      tenantId,
      type: task.type,
      flowRoot: task.rootId === id,
      callback: task.callbackUrl !== null,
    };
    if (!this.hooks?.wants(transition)) return this.ledger.transition(tenantId, id, from, { status: 'cancelled', ...change });
    const hooks = this.hooks;
    return this.ledger.inTransaction(async (manager) => {
      const changed = await this.ledger.transition(tenantId, id, from, { status: 'cancelled', ...change }, manager);
      if (changed) await hooks.record(manager, [transition]);
      return changed;
    });
  }

  /**
   * Cancels a flow node and every unfinished node under it in one transaction, with what that
   * does to its parent (settled by its policy, as for any child that ended), then removes their
   * jobs or tells the workers running them. The ledger says `cancelled` at once, running nodes
   * included: their workers' later writes never overwrite it. 409 if nothing was left to cancel.
   */
  private async cancelFlowNode(task: TaskEntity): Promise<{ outcome: CancelOutcome; task: TaskEntity }> {
    const { tenantId, id } = task;
    let effects: CommitEffects = noCommitEffects();
    await this.ledger.inTransaction(async (manager) => {
      effects = noCommitEffects();
      const error = { code: 'CANCELLED', message: `cancelled with flow node ${id} and everything under it` };
      await this.flows.cancelSubtrees(manager, tenantId, task.rootId!, [id], error, effects);
      if (task.onFailure && task.parentId) await this.flows.settle(manager, [{ id: task.parentId, tenantId }], effects);
    });
    await this.effects.apply(effects);
    if (effects.cancelled.length === 0) throw DomainError.conflict('TASK_TERMINAL', 'The task and everything under it had already ended');
    return { outcome: 'cancelled', task: (await this.ledger.findOne(tenantId, id))! };
  }

  /**
   * A flow node runs again only while its run can still count: its parent (if any) still waits
   * for it, and (for a node with children) its own handler failed, not a child. Re-running a
   * parent that a child failed would run it without what it waits for.
   */
  private async checkFlowRetry(task: TaskEntity): Promise<void> {
    const refuse = (message: string) => DomainError.conflict('FLOW_NODE_SETTLED', message);
    if (task.error?.code === 'CHILD_FAILED' || (task.rootId === task.id && task.status === 'cancelled')) {
      throw refuse('This flow node ended because of its children (or its flow was cancelled); submit the flow again');
    }
    if (task.onFailure && task.parentId) {
      const parent = await this.ledger.findOne(task.tenantId, task.parentId);
      if (parent && parent.status !== 'waiting') throw refuse(`Its flow parent no longer waits for it (${parent.status}); submit the flow again`);
    }
  }

  /**
   * Runs a failed, cancelled or expired task again under the same id. Its attempt count keeps
   * going and it gets the attempts it was created with again (maxAttempts grows by them).
   */
  async retry(tenantId: string, id: string): Promise<TaskEntity> {
    try {
      return await this.retryTask(tenantId, id);
    } finally {
      this.feed?.publish([id]);
    }
  }

  private async retryTask(tenantId: string, id: string): Promise<TaskEntity> {
    const task = await this.require(tenantId, id);
    if (!RETRYABLE.includes(task.status)) {
      throw DomainError.conflict('TASK_NOT_RETRYABLE', `A ${task.status} task cannot be retried; only failed, cancelled or expired ones`);
    }
    if (task.rootId !== null && (task.onFailure !== null || task.rootId === task.id)) await this.checkFlowRetry(task);
    const definition = this.registry.get(task.type);
    if (!definition) throw DomainError.conflict('UNKNOWN_TASK_TYPE', `This API no longer knows task type "${task.type}"`);
    const maxAttempts = maxAttemptsAfterManualRetry(task);
    // The finished job may still sit in Redis under the same id; it must go before re-adding.
    // Done before the ledger changes, so a Redis failure here leaves everything as it was.
    await this.removeFinishedJob(task.queue, id);
    const changed = await this.ledger.transition(tenantId, id, RETRYABLE, { status: 'queued', error: null, finishedAt: null, maxAttempts });
    if (!changed) throw DomainError.conflict('TASK_NOT_RETRYABLE', 'The task changed meanwhile');

    // Read before the add: the answer describes the retry, not how far the new run has got.
    const retried = (await this.ledger.findOne(tenantId, id))!;
    const row = { ...task, status: 'queued' as const, maxAttempts, scheduledFor: null, expiresAt: null };
    const [outcome] = await this.relay.add([{ row, job: jobForTask(row) }]);
    if (outcome === 'refused') {
      // Redis never ran the add: put the task back as it was, the retry was not accepted.
      await this.ledger.transition(tenantId, id, ['queued'], {
        status: task.status,
        error: task.error,
        finishedAt: task.finishedAt,
        maxAttempts: task.maxAttempts,
      });
      throw DomainError.unavailable('QUEUE_UNAVAILABLE', 'The queue is unavailable; retry later');
    }
    // Added, or unknown (it may land late): the row stays queued and the reconciler queues
    // the job if Redis never got it, as for a new task.
    return retried;
  }

  /**
   * Removes the job of a finished task before its id is used again. The ledger hears of the end
   * first (workers record it before they acknowledge the job), so right after a task turned
   * `failed` its job may still be active for a few milliseconds: BullMQ refuses to remove it
   * then, and an add under its id would be ignored once it lands in the failed set, leaving the
   * retried task without a job. So: wait for the worker to let go, briefly.
   */
  private async removeFinishedJob(queueName: string, id: string): Promise<void> {
    const queue = this.relay.queue(queueName);
    const deadline = Date.now() + RELEASE_WAIT_MS;
    for (;;) {
      const removed = await this.redis(() => queue.remove(id));
      if (removed === 1 || !(await this.redis(() => queue.getJob(id)))) return;
      if (Date.now() > deadline) {
        throw DomainError.conflict('TASK_BUSY', 'The worker that ran this task has not released it yet; retry in a moment');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /**
   * Changes the priority of a task that has not started (scheduled, queued, retrying): its job
   * first (BullMQ reorders it among the waiting ones; a delayed job keeps it for when it is
   * due), then the ledger, so a job the reconciler re-adds from the row gets it too. Redis first
   * means a failure leaves the ledger as it was, and a repeat of the request does the same again.
   * 409 TASK_NOT_WAITING once it runs or has ended.
   */
  async changePriority(tenantId: string, id: string, priority: number): Promise<TaskEntity> {
    const task = await this.require(tenantId, id);
    const notWaiting = (status: string) =>
      DomainError.conflict('TASK_NOT_WAITING', `Only a task that has not started can change priority; this one is ${status}`);
    if (!WAITING.includes(task.status)) throw notWaiting(task.status);
    const job = await this.redis(() => this.relay.queue(task.queue).getJob(id));
    if (job) {
      const state = await this.redis(() => job.getState());
      if (state === 'active' || state === 'completed' || state === 'failed') throw notWaiting(state === 'active' ? 'active' : 'finishing');
      // With fairness on, the job's BullMQ priority is its fair place, taken anew at this level.
      const placed = await this.redis(() => this.relay.jobPriority(task.queue, tenantId, priority));
      await this.redis(() => job.changePriority({ priority: placed }));
    }
    // No job: Redis lost it, and the reconciler re-adds it from the row, with this priority.
    if (!(await this.ledger.changePriority(tenantId, id, WAITING, priority))) {
      throw notWaiting((await this.require(tenantId, id)).status);
    }
    this.feed?.publish([id]);
    return (await this.ledger.findOne(tenantId, id))!;
  }

  private async require(tenantId: string, id: string): Promise<TaskEntity> {
    const task = await this.ledger.findOne(tenantId, id);
    if (!task) throw DomainError.notFound('TASK_NOT_FOUND', 'No such task');
    return task;
  }

  private async redis<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.logger.warn({ err: error }, 'queue unavailable');
      throw DomainError.unavailable('QUEUE_UNAVAILABLE', 'The queue is unavailable; retry later');
    }
  }
}
