import { Injectable, Logger } from '@nestjs/common';
import { isUniqueViolation } from '@conveyor/database';
import { DomainError, type DomainErrorDetail } from '@conveyor/errors';
import { inSpan, SpanKind, TaskMetrics } from '@conveyor/observability';
import { JobRelay, type PreparedTask } from '../intake/job-relay';
import { TaskFactory } from '../intake/task-factory';
import { LedgerOutcomeUnknownError, TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskOrigin } from '../intake/task-request';
import type { TaskEntity } from '../ledger/task.entity';
import type { CreateTaskDto } from './create-task.dto';
import { TenantBacklog } from './tenant-backlog';

export interface EnqueueResult {
  /** In request order. */
  tasks: TaskEntity[];
  /** Per task: false when an idempotency key or client id returned the task created earlier. */
  created: boolean[];
}

/**
 * Accepts tasks: validates each against its contract, writes the ledger rows, then adds the
 * BullMQ jobs (job id = task id). A 202 means the task runs, a 503 that it never does; see
 * addJobsOrRefuse for how an add Redis did not confirm is settled.
 */
@Injectable()
export class TaskProducer {
  private readonly logger = new Logger(TaskProducer.name);

  constructor(
    private readonly factory: TaskFactory,
    private readonly relay: JobRelay,
    private readonly ledger: TaskLedgerService,
    private readonly metrics: TaskMetrics,
    private readonly backlog: TenantBacklog,
  ) {}

  /**
   * Idempotency: a request carrying a key (or a client-chosen id) already used in the tenant
   * returns the task created then (same body) or is refused (other body: 422 for a key, 409 for
   * an id). The database's unique index decides
   * races: when a concurrent identical request inserts first, our insert fails and the lookup
   * is repeated, so both callers get the same task and only one job exists. `origin` applies
   * to every task of the call (e.g. the pipeline a cleaning job runs after its task).
   * Traced as one producer span: the tasks' attempts are its children (see jobForTask).
   */
  enqueue(tenantId: string, requests: CreateTaskDto[], origin?: TaskOrigin): Promise<EnqueueResult> {
    const attributes = () => ({ 'messaging.system': 'bullmq', 'conveyor.tenant': tenantId, 'messaging.batch.message_count': requests.length });
    return inSpan('enqueue', SpanKind.PRODUCER, attributes, () => this.enqueueNow(tenantId, requests, origin));
  }

  private async enqueueNow(tenantId: string, requests: CreateTaskDto[], origin?: TaskOrigin): Promise<EnqueueResult> {
    const prepared = await this.factory.prepare(tenantId, requests, origin);
    for (let round = 0; ; round += 1) {
      const existing = await this.existingOf(tenantId, prepared);
      const fresh = prepared.filter((p) => !existing.has(p));
      await this.backlog.admit(tenantId, fresh.length);
      if (!(await this.store(fresh, round))) continue;
      await this.addJobsOrRefuse(tenantId, fresh);
      this.accepted(tenantId, fresh);
      return {
        tasks: prepared.map((p) => existing.get(p) ?? p.row),
        created: prepared.map((p) => !existing.has(p)),
      };
    }
  }

  /**
   * Accepts a flow: every node's row in one transaction (whole or nothing), then the jobs of the
   * nodes that can run now (the leaves; parents wait in the ledger for their children). The
   * root's idempotency key stands for the whole flow: seen before (same body), the flow created
   * then is returned and nothing is stored.
   */
  async enqueueFlow(tenantId: string, nodes: PreparedTask[]): Promise<{ root: TaskEntity; created: boolean }> {
    const [root] = nodes;
    for (let round = 0; ; round += 1) {
      const earlier = root.row.idempotencyKey ? (await this.existingOf(tenantId, [root])).get(root) : undefined;
      if (earlier) return { root: earlier, created: false };
      await this.backlog.admit(tenantId, nodes.length);
      if (!(await this.store(nodes, round))) continue;
      await this.addJobsOrRefuse(
        tenantId,
        nodes.filter((node) => node.row.status !== 'waiting'),
        nodes,
      );
      this.accepted(tenantId, nodes);
      return { root: root.row, created: true };
    }
  }

  /**
   * Inserts the rows; false when a concurrent request took one of their idempotency keys first
   * (on the first round only: the caller looks the keys and ids up again and returns that request's tasks).
   */
  private async store(prepared: PreparedTask[], round: number): Promise<boolean> {
    try {
      await this.ledger.insertShared(prepared.map((p) => p.row));
      return true;
    } catch (error) {
      if (round === 0 && isUniqueViolation(error)) return false;
      if (error instanceof LedgerOutcomeUnknownError) {
        throw DomainError.unavailable(
          'LEDGER_OUTCOME_UNKNOWN',
          'The database stopped answering while committing the task: it may have been stored. Retry with the same Idempotency-Key to get the one task',
        );
      }
      throw error;
    }
  }

  private accepted(tenantId: string, prepared: PreparedTask[]): void {
    this.backlog.accepted(tenantId, prepared.length);
    for (const { row } of prepared) this.metrics.enqueued(row.type, row.queue, 1, row.tenantId);
  }

  /**
   * Adds the jobs of rows already in the ledger. A 503 must mean "never runs" and a 202 "runs",
   * so what the API answers follows what Redis can have done:
   * - every add done: accepted;
   * - every add refused before Redis ran it (no connection): the rows are taken back (all of
   *   `stored`: a flow's waiting parents too) and the request is refused with 503
   *   QUEUE_UNAVAILABLE; nothing of it exists anywhere;
   * - any add whose outcome is unknown (no answer within ADD_TIMEOUT_MS, or the connection
   *   dropped after sending), or a mix: accepted. The rows stay `queued`; a job that reaches
   *   Redis late runs as usual, and the reconciler adds the job of any row Redis never got.
   *   Taking the rows back here would be the one wrong answer: the add may still land and run
   *   a task the client was told was refused (and that its retry would enqueue again).
   */
  async addJobsOrRefuse(tenantId: string, prepared: PreparedTask[], stored: PreparedTask[] = prepared): Promise<void> {
    if (prepared.length === 0) return;
    const outcomes = await this.relay.add(prepared);
    if (outcomes.every((outcome) => outcome === 'added')) return;
    if (outcomes.every((outcome) => outcome === 'refused')) {
      try {
        await this.ledger.removeNotEnqueued(
          tenantId,
          stored.map((p) => p.row.id),
        );
      } catch (error) {
        // The rows stay, so the task is accepted after all: the reconciler will queue it.
        this.logger.warn({ err: error, tasks: prepared.length }, 'queue refused the jobs and the rows could not be taken back; the reconciler will queue them');
        this.metrics.enqueueUnconfirmed(prepared.length);
        return;
      }
      this.logger.warn({ tasks: prepared.length }, 'enqueue refused: queue unavailable');
      throw DomainError.unavailable('QUEUE_UNAVAILABLE', 'The queue is unavailable; the task was not accepted, retry later');
    }
    const unconfirmed = outcomes.filter((outcome) => outcome !== 'added').length;
    this.metrics.enqueueUnconfirmed(unconfirmed);
    this.logger.warn(
      { tasks: prepared.length, unconfirmed },
      'enqueue accepted without confirmation from Redis; the reconciler queues any job Redis did not get',
    );
  }

  /**
   * The tasks created earlier by requests these repeat: same idempotency key or same client id
   * in the tenant. A repeat with another body is refused: 422 IDEMPOTENCY_KEY_REUSED for a key
   * (as before), 409 TASK_ID_REUSED for a client id.
   */
  private async existingOf(tenantId: string, prepared: PreparedTask[]): Promise<Map<PreparedTask, TaskEntity>> {
    const keys = prepared.map((p) => p.row.idempotencyKey).filter((key): key is string => !!key);
    const clientIds = prepared.map((p) => p.row.clientId).filter((id): id is string => !!id);
    const [byKeyRows, byClientIdRows] = await Promise.all([
      this.ledger.findByIdempotencyKeys(tenantId, keys),
      this.ledger.findByClientIds(tenantId, clientIds),
    ]);
    const byKey = new Map(byKeyRows.map((row) => [row.idempotencyKey!, row]));
    const byClientId = new Map(byClientIdRows.map((row) => [row.clientId!, row]));
    const existing = new Map<PreparedTask, TaskEntity>();
    const keyConflicts: DomainErrorDetail[] = [];
    const idConflicts: DomainErrorDetail[] = [];
    for (const p of prepared) {
      const sameKey = p.row.idempotencyKey ? byKey.get(p.row.idempotencyKey) : undefined;
      const sameId = p.row.clientId ? byClientId.get(p.row.clientId) : undefined;
      if (sameKey && sameKey.idempotencyHash !== p.row.idempotencyHash) {
        keyConflicts.push({ field: 'idempotencyKey', message: `key "${p.row.idempotencyKey}" belongs to task ${sameKey.id}` });
      } else if (sameId && (sameId.idempotencyHash !== p.row.idempotencyHash || (sameKey && sameKey.id !== sameId.id))) {
        idConflicts.push({ field: 'id', message: `id "${p.row.clientId}" belongs to task ${sameId.id}, created with another request` });
      } else if (sameKey ?? sameId) existing.set(p, (sameKey ?? sameId)!);
    }
    if (keyConflicts.length > 0) {
      throw new DomainError('unprocessable', 'IDEMPOTENCY_KEY_REUSED', 'This idempotency key was already used for a different request', {
        details: keyConflicts,
      });
    }
    if (idConflicts.length > 0) throw DomainError.conflict('TASK_ID_REUSED', 'This task id was already used for a different request', idConflicts);
    return existing;
  }
}
