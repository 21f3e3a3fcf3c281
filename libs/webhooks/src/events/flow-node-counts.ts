import type { EntityManager } from 'typeorm';
import { TaskEntity, type TaskStatus } from '@conveyor/tasks';

/** How many nodes a flow has, and how many are in each status (`flow.completed`'s `nodes`). */
export interface FlowNodeCounts {
  total: number;
  byStatus: Partial<Record<TaskStatus, number>>;
}

/**
 * Counts a flow's nodes (its root and every node with an edge; follow-ups its nodes asked for
 * share the root id but are no nodes) in the caller's transaction, so the counts are those the
 * root's end committed with. Nodes still running at that moment (a `fail-parent` root fails
 * while its other children run on) show in their unfinished status.
 */
export async function flowNodeCounts(manager: EntityManager, root: Pick<TaskEntity, 'id' | 'tenantId'>): Promise<FlowNodeCounts> {
  const rows: Array<{ status: TaskStatus; count: string | number }> = await manager
    .getRepository(TaskEntity)
    .createQueryBuilder('t')
    .select('t.status', 'status')
    .addSelect('COUNT(*)', 'count')
    .where('t.tenantId = :tenantId AND t.rootId = :rootId', { tenantId: root.tenantId, rootId: root.id })
    .andWhere('(t.onFailure IS NOT NULL OR t.id = :rootId)', { rootId: root.id })
    .groupBy('t.status')
    .getRawMany();
  const byStatus = Object.fromEntries(rows.map((row) => [row.status, Number(row.count)])) as FlowNodeCounts['byStatus'];
  return { total: rows.reduce((sum, row) => sum + Number(row.count), 0), byStatus };
}
