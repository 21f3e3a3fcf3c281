import { Inject, Injectable, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { failsParent, type FlowPolicy } from '../ledger/flow-policy';
import { TaskEntity } from '../ledger/task.entity';
import { isTerminal, TASK_STATUSES, type TaskError, type TaskStatus } from '../ledger/task-status';
import { TASK_TRANSITION_HOOKS, type TaskTransition, type TaskTransitionHooks } from '../ledger/task-transition-hooks';
import type { CommitEffects } from './commit-effects';

/** A flow parent to look at again: one of its children reached a terminal state. */
export interface FlowParentRef {
  id: string;
  tenantId: string;
}

/** Terminal states that count as a child's failure under its edge's policy. */
const FAILED: readonly TaskStatus[] = ['failed', 'cancelled', 'expired'];
const UNFINISHED: readonly TaskStatus[] = TASK_STATUSES.filter((status) => !isTerminal(status));
const MAX_ERROR_MESSAGE = 2000;
/** Ids per UPDATE … IN (…): far below both drivers' parameter limits. */
const IDS_PER_STATEMENT = 500;

/**
 * The rules of flows, applied inside the caller's transaction (READ COMMITTED), so a child's
 * terminal state and what it does to its parent commit together or not at all:
 * - a parent waits (`waiting`) until every child has ended; it is then released (`queued`, or
 *   `scheduled` if its own start time is still ahead) and its job is added after the commit;
 * - a child that fails, is cancelled or expires under `fail-parent` or `cancel-siblings` fails
 *   the parent at once (CHILD_FAILED, naming the child); `cancel-siblings` also cancels the
 *   parent's unfinished children and everything under them;
 * - under `ignore` and `continue` the failure is one more ended child;
 * - a parent that fails this way is itself a child that ended: its own parent is settled in turn.
 * The parent row is locked before its children are counted: two children ending at once in two
 * transactions are then counted one after the other, and the second sees the first (without the
 * lock each could count the other as still running, and the parent would wait forever).
 * Every change is conditional on the parent still `waiting`, so settling twice changes nothing.
 * The nodes it fails or cancels pass through the transition hooks like any other state change,
 * in the same transaction (their webhook events commit with them or not at all).
 */
@Injectable()
export class FlowSettler {
  constructor(@Optional() @Inject(TASK_TRANSITION_HOOKS) private readonly hooks?: TaskTransitionHooks) {}

  /** Settles these parents and, up the tree, every parent that ended because of them. */
  async settle(manager: EntityManager, parents: FlowParentRef[], effects: CommitEffects): Promise<void> {
    // Locked in id order, so two transactions settling the same parents never deadlock on them.
    const pending = [...new Map(parents.map((ref) => [ref.id, ref])).values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    while (pending.length > 0) {
      const next = await this.settleOne(manager, pending.shift()!, effects);
      if (next) pending.push(next);
    }
  }

  /**
   * Cancels these nodes and every unfinished node under them (through finished ones too: a
   * parent failed by a child may still have children running). Returns nothing; the cancelled
   * tasks are added to `effects` for their jobs to be removed or their workers told.
   */
  async cancelSubtrees(manager: EntityManager, tenantId: string, rootId: string, nodeIds: string[], error: TaskError, effects: CommitEffects): Promise<void> {
    const nodes = await manager
      .getRepository(TaskEntity)
      .createQueryBuilder('t')
      .select(['t.id', 't.type', 't.parentId', 't.rootId', 't.status', 't.queue', 't.onFailure', 't.callbackUrl'])
      .where('t.tenantId = :tenantId AND t.rootId = :rootId', { tenantId, rootId })
      .getMany();
    const children = new Map<string, TaskEntity[]>();
    for (const node of nodes) {
      if (!node.onFailure || !node.parentId) continue;
      children.set(node.parentId, [...(children.get(node.parentId) ?? []), node]);
    }
    const byId = new Map(nodes.map((node) => [node.id, node]));
    const doomed: TaskEntity[] = [];
    const seen = new Set<string>();
    const stack = [...nodeIds];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const node = byId.get(id);
      if (node && !isTerminal(node.status)) doomed.push(node);
      for (const child of children.get(id) ?? []) stack.push(child.id);
    }
    const now = new Date();
    for (let i = 0; i < doomed.length; i += IDS_PER_STATEMENT) {
      const ids = doomed.slice(i, i + IDS_PER_STATEMENT).map((node) => node.id);
      await manager
        .createQueryBuilder()
        .update(TaskEntity)
        .set({ status: 'cancelled', error, finishedAt: now, updatedAt: now })
        .where('id IN (:...ids)', { ids })
        .andWhere('status IN (:...unfinished)', { unfinished: UNFINISHED })
        .execute();
    }
    effects.cancelled.push(...doomed.map(({ id, queue, onFailure }) => ({ id, queue, onFailure })));
    if (doomed.some((node) => node.id === rootId)) effects.flowsFinished.push('cancelled');
    await this.announce(
      manager,
      doomed.map((node) => transitionOf({ ...node, tenantId }, 'cancelled')),
    );
  }

  /** Hands the nodes this transaction ended to the transition hooks (they re-read the rows: one skipped by its UPDATE is left out). */
  private async announce(manager: EntityManager, transitions: TaskTransition[]): Promise<void> {
    const hooks = this.hooks;
    if (!hooks) return;
    const wanted = transitions.filter((transition) => hooks.wants(transition));
    if (wanted.length > 0) await hooks.record(manager, wanted);
  }

  /** Returns the grandparent to settle next when this parent ended. */
  private async settleOne(manager: EntityManager, ref: FlowParentRef, effects: CommitEffects): Promise<FlowParentRef | null> {
    const tasks = manager.getRepository(TaskEntity);
    const parent = await tasks
      .createQueryBuilder('t')
      .setLock('pessimistic_write')
      .where('t.id = :id AND t.tenantId = :tenantId', { id: ref.id, tenantId: ref.tenantId })
      .getOne();
    if (!parent || parent.status !== 'waiting') return null;
    const counts: Array<{ status: TaskStatus; policy: FlowPolicy; count: string | number }> = await tasks
      .createQueryBuilder('t')
      .select('t.status', 'status')
      .addSelect('t.onFailure', 'policy')
      .addSelect('COUNT(*)', 'count')
      .where('t.tenantId = :tenantId AND t.parentId = :parentId', { tenantId: ref.tenantId, parentId: ref.id })
      .andWhere('t.onFailure IS NOT NULL')
      .groupBy('t.status')
      .addGroupBy('t.onFailure')
      .getRawMany();
    const now = new Date();
    if (counts.some((row) => FAILED.includes(row.status) && failsParent(row.policy))) {
      await this.failParent(manager, parent, now, effects);
      return parent.onFailure && parent.parentId ? { id: parent.parentId, tenantId: parent.tenantId } : null;
    }
    if (counts.some((row) => !isTerminal(row.status))) return null;
    const status = parent.scheduledFor && parent.scheduledFor.getTime() > now.getTime() ? 'scheduled' : 'queued';
    await tasks
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ status, updatedAt: now })
      .where('id = :id AND status = :waiting', { id: parent.id, waiting: 'waiting' })
      .execute();
    effects.queue.push(Object.assign(parent, { status, updatedAt: now }));
    return null;
  }

  private async failParent(manager: EntityManager, parent: TaskEntity, now: Date, effects: CommitEffects): Promise<void> {
    const tasks = manager.getRepository(TaskEntity);
    // The child that ended first among those whose failure fails the parent: the one to blame.
    const culprit = (await tasks
      .createQueryBuilder('t')
      .where('t.tenantId = :tenantId AND t.parentId = :parentId', { tenantId: parent.tenantId, parentId: parent.id })
      .andWhere('t.onFailure IN (:...policies)', { policies: ['fail-parent', 'cancel-siblings'] })
      .andWhere('t.status IN (:...failed)', { failed: FAILED })
      .orderBy('t.finishedAt', 'ASC')
      .addOrderBy('t.id', 'ASC')
      .limit(1)
      .getOne())!;
    const cause = culprit.error ? `: ${culprit.error.code}: ${culprit.error.message}` : '';
    const error = { code: 'CHILD_FAILED', message: `child ${culprit.id} (${culprit.type}) ${culprit.status}${cause}`.slice(0, MAX_ERROR_MESSAGE) };
    await tasks
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ status: 'failed', error, finishedAt: now, updatedAt: now })
      .where('id = :id AND status = :waiting', { id: parent.id, waiting: 'waiting' })
      .execute();
    if (parent.rootId === parent.id) effects.flowsFinished.push('failed');
    if (culprit.onFailure === 'cancel-siblings') {
      const siblings = await tasks
        .createQueryBuilder('t')
        .select(['t.id'])
        .where('t.tenantId = :tenantId AND t.parentId = :parentId', { tenantId: parent.tenantId, parentId: parent.id })
        .andWhere('t.onFailure IS NOT NULL')
        .andWhere('t.id <> :culprit', { culprit: culprit.id })
        .getMany();
      const reason = { code: 'CANCELLED', message: `cancelled because sibling ${culprit.id} ${culprit.status} (cancel-siblings)` };
      await this.cancelSubtrees(
        manager,
        parent.tenantId,
        parent.rootId!,
        siblings.map((sibling) => sibling.id),
        reason,
        effects,
      );
    }
    // After the siblings: a root's flow.completed counts them as they end in this transaction.
    await this.announce(manager, [transitionOf(parent, 'failed')]);
  }
}

function transitionOf(task: Pick<TaskEntity, 'id' | 'tenantId' | 'type' | 'rootId' | 'callbackUrl'>, status: TaskStatus): TaskTransition {
  return { taskId: task.id, status, tenantId: task.tenantId, type: task.type, flowRoot: task.rootId === task.id, callback: task.callbackUrl !== null };
}
