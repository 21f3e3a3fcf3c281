import { Injectable } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { inSpan, SpanKind } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { MAX_FLOW_NODES, planFlow, type FlowNodeRequest, type FlowPlanNode } from '../flows/flow-plan';
import { requestFingerprint } from '../intake/request-fingerprint';
import { TaskFactory } from '../intake/task-factory';
import type { TaskEntity } from '../ledger/task.entity';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import { jobForTask } from '../task-job';
import { toFlowCreatedView, toFlowView, type FlowCreatedView, type FlowView } from './flow-view.dto';
import { TaskProducer } from './task-producer.service';

/** Rows one `GET /v1/flows/:rootId` shows: a whole flow, and room for its nodes' follow-ups. */
const MAX_ROWS_SHOWN = 5 * MAX_FLOW_NODES;

export const flowNotFound = () => DomainError.notFound('FLOW_NOT_FOUND', 'No such flow');

/**
 * Flows on the API side: `POST /v1/flows` checks the whole tree (shape, then every node against
 * its type's contract) before anything is stored, writes every node in one transaction (the
 * parents `waiting`, the leaves queued) and adds the leaves' jobs; `GET` shows the tree.
 */
@Injectable()
export class FlowsService {
  constructor(
    private readonly factory: TaskFactory,
    private readonly registry: TaskTypeRegistry,
    private readonly producer: TaskProducer,
    private readonly ledger: TaskLedgerService,
  ) {}

  /** Traced as one producer span, the parent of the attempts of every node. */
  create(tenantId: string, body: FlowNodeRequest): Promise<{ created: boolean; view: FlowCreatedView }> {
    return inSpan('enqueue flow', SpanKind.PRODUCER, { 'messaging.system': 'bullmq', 'conveyor.tenant': tenantId }, () => this.createNow(tenantId, body));
  }

  private async createNow(tenantId: string, body: FlowNodeRequest): Promise<{ created: boolean; view: FlowCreatedView }> {
    const plan = planFlow(body);
    const prepared = await this.prepare(tenantId, plan);
    const root = prepared[0].row;
    // The key stands for the whole flow: the same key with another tree is a different request.
    if (root.idempotencyKey) root.idempotencyHash = requestFingerprint(body);
    plan.forEach((node, index) => {
      const { row } = prepared[index];
      Object.assign(row, {
        rootId: root.id,
        parentId: node.parent === null ? null : prepared[node.parent].row.id,
        onFailure: node.onFailure,
        ...(node.hasChildren ? { status: 'waiting' } : {}),
      });
      prepared[index].job = jobForTask(row);
    });
    const { root: stored, created } = await this.producer.enqueueFlow(tenantId, prepared);
    const rows = created ? prepared.map((p) => p.row) : await this.ledger.findFlow(tenantId, stored.id, MAX_ROWS_SHOWN);
    return { created, view: toFlowCreatedView(stored.id, rows) };
  }

  async get(tenantId: string, rootId: string): Promise<FlowView> {
    const rows = await this.ledger.findFlow(tenantId, rootId, MAX_ROWS_SHOWN + 1);
    if (!rows.some((row) => row.id === rootId)) throw flowNotFound();
    return toFlowView(rootId, rows.slice(0, MAX_ROWS_SHOWN), rows.length > MAX_ROWS_SHOWN);
  }

  /**
   * The flow or chain `task` belongs to, from its root: a flow's root (every node carries it),
   * or the task that started a chain of follow-ups (which carries none itself). A task in
   * neither is a tree of one.
   */
  async ofTask(task: TaskEntity): Promise<FlowView> {
    const rootId = task.rootId ?? task.id;
    const rows = await this.ledger.findTree(task.tenantId, rootId, MAX_ROWS_SHOWN + 1);
    // Retention may have deleted a chain's first task before its follow-ups.
    if (!rows.some((row) => row.id === rootId)) throw flowNotFound();
    return toFlowView(rootId, rows.slice(0, MAX_ROWS_SHOWN), rows.length > MAX_ROWS_SHOWN);
  }

  /** Every node through TaskFactory, its error details named by where the node sits in the body. */
  private async prepare(tenantId: string, plan: FlowPlanNode[]) {
    try {
      return await this.factory.prepare(
        tenantId,
        plan.map((node) => node.request),
      );
    } catch (error) {
      if (!(error instanceof DomainError) || !error.details) throw error;
      // The factory names fields "tasks[<index>]." for several requests, or bare for one.
      const located = error.details.map((detail) => {
        const match = /^tasks\[(\d+)\]\.(.*)$/.exec(detail.field ?? '');
        return match ? { ...detail, field: `${plan[Number(match[1])].path}${match[2]}` } : detail;
      });
      throw error.withDetails(located);
    }
  }
}
