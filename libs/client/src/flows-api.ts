import { randomUUID } from './random-id.js';
import type { TaskTypeName, TaskTypes } from './task-types.gen.js';
import type { Transport } from './transport.js';
import type { EnqueueOptions, TaskStatus } from './types.js';

/** What a node's failure does to its parent. */
export type FlowPolicy = 'fail-parent' | 'ignore' | 'continue' | 'cancel-siblings';

/** A node's options: those of an enqueue but `id`, the policy of its edge to its parent (not on the root), its children. */
export interface FlowNodeOptions extends Omit<EnqueueOptions, 'id' | 'idempotencyKey'> {
  onFailure?: FlowPolicy;
  /** They all end before this node runs. */
  children?: FlowNodeRequest[];
}

/** One node of `POST /v1/flows`: a task of a known type with its payload, and the node's options. */
export type FlowNodeRequest = { [T in TaskTypeName]: { type: T; payload: TaskTypes[T]['payload'] } & FlowNodeOptions }[TaskTypeName];

/** `POST /v1/flows`: the flow's id (its root's) and every node's, in the order of the body. */
export interface FlowCreated {
  id: string;
  status: TaskStatus;
  nodes: Array<{ id: string; type: string; parentId: string | null }>;
}

/** A follow-up a node's handler asked for, with its own (a pipeline's next step). */
export interface FlowFollowUp {
  id: string;
  type: string;
  status: TaskStatus;
  followUps: FlowFollowUp[];
}

/** One node of a flow with its status, its children (which end before it runs) and follow-ups. */
export interface FlowNode extends FlowFollowUp {
  /** The policy of the edge to its parent; null for the root. */
  onFailure: FlowPolicy | null;
  attempts: number;
  error: { code: string; message: string } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  children: FlowNode[];
}

/** A flow's tree (`GET /v1/flows/:id`, `GET /v1/tasks/:id/flow`); its status is its root's. */
export interface FlowView {
  id: string;
  status: TaskStatus;
  /** Nodes per status, root included. */
  counts: Partial<Record<TaskStatus, number>>;
  /** True when the flow holds more tasks than one answer shows. */
  truncated: boolean;
  root: FlowNode;
}

const flowPath = (id: string) => `/v1/flows/${encodeURIComponent(id)}`;

/** `client.flows`: trees of tasks, children before parents. */
export class FlowsApi {
  constructor(private readonly transport: Transport) {}

  /**
   * Submits the whole tree, all or nothing. Sent with an idempotency key (yours or one made
   * here), so a retry after a lost answer creates no second flow.
   */
  async create(root: FlowNodeRequest, options: { idempotencyKey?: string } = {}): Promise<FlowCreated> {
    const headers = { 'idempotency-key': options.idempotencyKey ?? randomUUID() };
    return (await this.transport.request<FlowCreated>('POST', '/v1/flows', { body: root, headers, idempotent: true })).body;
  }

  /** The tree of the flow whose root is `rootId`. */
  async get(rootId: string): Promise<FlowView> {
    return (await this.transport.request<FlowView>('GET', flowPath(rootId), { idempotent: true })).body;
  }

  /** The flow (or chain of follow-ups) any task belongs to, from its root; a lone task is a tree of one. */
  async ofTask(taskId: string): Promise<FlowView> {
    return (await this.transport.request<FlowView>('GET', `/v1/tasks/${encodeURIComponent(taskId)}/flow`, { idempotent: true })).body;
  }

  /** Cancels every node that has not finished (ConveyorConflictError TASK_TERMINAL once it ended). */
  async cancel(rootId: string): Promise<FlowView> {
    return (await this.transport.request<FlowView>('POST', `${flowPath(rootId)}/cancel`, { idempotent: true })).body;
  }
}
