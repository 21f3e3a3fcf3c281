import type { TaskEntity } from '../ledger/task.entity';
import type { TaskStatus } from '../ledger/task-status';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export class FlowErrorView {
  code: string;
  message: string;
}

/** A follow-up a node's handler asked for, listed under that node, with its own follow-ups (a pipeline's next step). */
export class FlowFollowUpView {
  id: string;
  type: string;
  status: string;
  followUps: FlowFollowUpView[];
}

/** One node of a flow with its status, and its children (which end before it runs). */
export class FlowNodeView {
  id: string;
  type: string;
  status: string;
  /** The policy of the edge to its parent; null for the root. */
  onFailure: string | null;
  attempts: number;
  error: FlowErrorView | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  children: FlowNodeView[];
  followUps: FlowFollowUpView[];
}

/** `GET /v1/flows/:rootId`: the tree with every node's status. The flow's status is its root's. */
export class FlowView {
  id: string;
  status: string;
  /** Nodes per status, root included. */
  counts: Record<string, number>;
  /** True when the flow and its follow-ups hold more rows than one answer shows. */
  truncated: boolean;
  root: FlowNodeView;
}

export class FlowCreatedNodeView {
  id: string;
  type: string;
  /** Its flow parent, which runs after it; null for the root. */
  parentId: string | null;
}

/** `POST /v1/flows`: the root's id (the flow's id) and every node's, in the order of the body. */
export class FlowCreatedView {
  id: string;
  status: string;
  nodes: FlowCreatedNodeView[];
}

const isFlowNode = (row: TaskEntity, rootId: string) => row.id === rootId || row.onFailure !== null;

export function toFlowCreatedView(rootId: string, rows: TaskEntity[]): FlowCreatedView {
  const nodes = rows.filter((row) => isFlowNode(row, rootId));
  return {
    id: rootId,
    status: nodes.find((row) => row.id === rootId)!.status,
    nodes: nodes.map(({ id, type, parentId }) => ({ id, type, parentId: id === rootId ? null : parentId })),
  };
}

/**
 * Builds the tree from a flow's rows (id order): flow nodes under their parent, follow-ups under
 * the task that asked (a flow node or another follow-up).
 */
export function toFlowView(rootId: string, rows: TaskEntity[], truncated: boolean): FlowView {
  const views = new Map<string, FlowNodeView>();
  const followUps = new Map<string, FlowFollowUpView>();
  const counts: Partial<Record<TaskStatus, number>> = {};
  for (const row of rows) {
    if (!isFlowNode(row, rootId)) continue;
    counts[row.status] = (counts[row.status] ?? 0) + 1;
    views.set(row.id, {
      id: row.id,
      type: row.type,
      status: row.status,
      onFailure: row.onFailure,
      attempts: row.attempts,
      error: row.error,
      createdAt: row.createdAt.toISOString(),
      startedAt: iso(row.startedAt),
      finishedAt: iso(row.finishedAt),
      children: [],
      followUps: [],
    });
  }
  for (const row of rows) if (!views.has(row.id)) followUps.set(row.id, { id: row.id, type: row.type, status: row.status, followUps: [] });
  for (const row of rows) {
    if (row.id === rootId || !row.parentId) continue;
    const parent = views.get(row.parentId) ?? followUps.get(row.parentId);
    if (!parent) continue;
    if (row.onFailure !== null) (parent as FlowNodeView).children.push(views.get(row.id)!);
    else parent.followUps.push(followUps.get(row.id)!);
  }
  const root = views.get(rootId)!;
  return { id: rootId, status: root.status, counts, truncated, root };
}
