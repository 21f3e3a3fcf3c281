import { DomainError } from '@conveyor/errors';
import { DEFAULT_FLOW_POLICY, type FlowPolicy } from '../ledger/flow-policy';
import type { TaskRequest } from '../intake/task-request';

/** Nodes one flow may have, root included. */
export const MAX_FLOW_NODES = 1000;
/** Levels one flow may have, root included. */
export const MAX_FLOW_DEPTH = 20;

/** A node as `POST /v1/flows` takes it (FlowNodeDto has this shape). */
export interface FlowNodeRequest extends Omit<TaskRequest, 'id'> {
  onFailure?: FlowPolicy;
  children?: FlowNodeRequest[];
}

/** One node of a flow, flattened: its task request, where it sits, and its edge to its parent. */
export interface FlowPlanNode {
  request: TaskRequest;
  /** Where the node is in the body, for error details: "", "children[0].", "children[0].children[2]."… */
  path: string;
  /** Index of its parent in the plan (parents come first); null for the root. */
  parent: number | null;
  onFailure: FlowPolicy | null;
  hasChildren: boolean;
}

const refuse = (code: string, message: string, field?: string) => DomainError.invalid(code, message, field ? [{ field, message }] : undefined);

/**
 * Flattens a flow tree, depth first in the order its children are listed (so node ids, made
 * in this order, sort as the flow lists them), and checks its shape: at most MAX_FLOW_NODES
 * nodes and MAX_FLOW_DEPTH levels, no `onFailure` on the root, idempotency keys on the root
 * only (the key of a flow is its root's). A JSON tree cannot hold a cycle: every node is a new
 * object. Each node's task is checked against its type's contract afterwards (TaskFactory).
 */
export function planFlow(root: FlowNodeRequest): FlowPlanNode[] {
  if (root.onFailure !== undefined) throw refuse('FLOW_INVALID', 'The root of a flow has no parent: onFailure belongs on its children', 'onFailure');
  const plan: FlowPlanNode[] = [];
  const visit = (node: FlowNodeRequest, path: string, parent: number | null, depth: number) => {
    if (depth > MAX_FLOW_DEPTH) throw refuse('FLOW_TOO_DEEP', `A flow may have at most ${MAX_FLOW_DEPTH} levels`, path.slice(0, -1));
    if (plan.length >= MAX_FLOW_NODES) throw refuse('FLOW_TOO_LARGE', `A flow may have at most ${MAX_FLOW_NODES} nodes`);
    if (parent !== null && node.idempotencyKey !== undefined) {
      throw refuse('FLOW_INVALID', "Only a flow's root takes an idempotency key (it stands for the whole flow)", `${path}idempotencyKey`);
    }
    const { onFailure, children = [], ...request } = node;
    const index = plan.length;
    plan.push({ request, path, parent, onFailure: parent === null ? null : (onFailure ?? DEFAULT_FLOW_POLICY), hasChildren: children.length > 0 });
    children.forEach((child, position) => visit(child, `${path}children[${position}].`, index, depth + 1));
  };
  visit(root, '', null, 1);
  return plan;
}
