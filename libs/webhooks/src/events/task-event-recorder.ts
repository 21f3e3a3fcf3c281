import { Inject, Injectable } from '@nestjs/common';
import { In, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { isTerminal, TaskEntity, TaskTypeRegistry, toTaskView, type TaskStatus, type TaskTransition, type TaskTransitionHooks } from '@conveyor/tasks';
import { callbackEndpointId } from '../endpoints/callback-endpoints.service';
import { insertIgnoringDuplicates } from '../store/insert-ignoring-duplicates';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { FLOW_COMPLETED, TASK_EVENT_TYPES } from '../webhooks.contract';
import { flowNodeCounts } from './flow-node-counts';
import { deliveryRow, eventId, eventRow } from './outbox-rows';
import { matching, SubscriptionCache } from './subscription-cache';

const taskEventOf = (status: TaskStatus): string | undefined => (TASK_EVENT_TYPES as Partial<Record<TaskStatus, string>>)[status];

/**
 * Which transition an event is about, for its id. A `retrying` is one failed attempt. A final
 * status is one per run: a run keeps its `maxAttempts` (only a manual retry raises it), while
 * its attempt count grows when a worker dies after the commit and the job runs again — that
 * re-run writes the same status again and must not make a second event. Every event a final
 * status makes (the task's, its type's domain event, its flow's) is keyed the same way.
 */
function transitionKey(task: TaskEntity, eventType: string): string {
  return task.status === 'retrying' ? `${task.id}:${eventType}:attempt:${task.attempts}` : `${task.id}:${eventType}:run:${task.maxAttempts}`;
}

/** One event a transition may make: its type, whether the task's callback gets it, and its data (read only when someone wants it). */
interface Candidate {
  type: string;
  callback: boolean;
  data(manager: EntityManager): unknown;
}

/**
 * The webhooks' task transition hook: writes the outbox (event + one delivery per endpoint
 * that wants it, and one to the task's callback URL) inside the transaction of the state
 * change, so both commit or neither does. A transition makes up to three events: the task's own
 * (`task.<status>`), on completion its type's domain event (`export.completed`, `file.cleaned`,
 * `pipeline.completed`, declared in its contract), and at a flow root's end `flow.completed`.
 */
@Injectable()
export class TaskEventRecorder implements TaskTransitionHooks {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly subscriptions: SubscriptionCache,
    private readonly registry: TaskTypeRegistry,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  wants(transition: TaskTransition): boolean {
    // A callback is owed whoever subscribes; an unknown flag might be one.
    if (isTerminal(transition.status) && transition.callback !== false) return true;
    return this.eventTypes(transition).some((eventType) => this.subscriptions.mayWant({ tenantId: transition.tenantId, eventType, taskType: transition.type }));
  }

  /** The event types a transition may make, from what the writer knows (unknown facts count as maybe). */
  private eventTypes({ status, type, flowRoot }: TaskTransition): string[] {
    const types: string[] = [];
    const own = taskEventOf(status);
    if (own) types.push(own);
    if (status === 'completed') {
      if (type === undefined) types.push(...this.registry.completedEventTypes());
      else if (this.registry.get(type)?.completedEvent) types.push(this.registry.get(type)!.completedEvent!.type);
    }
    if (isTerminal(status) && flowRoot !== false) types.push(FLOW_COMPLETED);
    return types;
  }

  async record(manager: EntityManager, transitions: TaskTransition[]): Promise<void> {
    const wanted = new Map(transitions.map((t) => [t.taskId, t.status]));
    // After the UPDATE: a row a cancel kept `cancelled` shows that, not the status written.
    const rows = (await manager.getRepository(TaskEntity).findBy({ id: In([...wanted.keys()]) })).filter((row) => wanted.get(row.id) === row.status);
    if (rows.length === 0) return;
    const at = new Date(this.clock.now());
    const subscriptions = await this.subscriptions.subscriptions(manager, [...new Set(rows.map((row) => row.tenantId))]);
    const events: WebhookEventEntity[] = [];
    const deliveries: WebhookDeliveryEntity[] = [];
    for (const task of rows) {
      for (const candidate of this.candidates(task)) {
        const targets = matching(subscriptions, { tenantId: task.tenantId, eventType: candidate.type, taskType: task.type, tags: task.tags }, at);
        const callback = candidate.callback ? task.callbackUrl : null;
        if (targets.length === 0 && !callback) continue;
        const event = eventRow({
          id: eventId(transitionKey(task, candidate.type)),
          tenantId: task.tenantId,
          type: candidate.type,
          taskId: task.id,
          at,
          data: await candidate.data(manager),
        });
        events.push(event);
        for (const target of targets) deliveries.push(deliveryRow(event, target.id, at));
        // The tenant's callback endpoint was made when the task was accepted (no write here).
        if (callback) deliveries.push(deliveryRow(event, callbackEndpointId(task.tenantId), at, callback));
      }
    }
    await insertIgnoringDuplicates(manager, WebhookEventEntity, events);
    await insertIgnoringDuplicates(manager, WebhookDeliveryEntity, deliveries);
  }

  private candidates(task: TaskEntity): Candidate[] {
    const candidates: Candidate[] = [];
    const own = taskEventOf(task.status);
    // The task's callback hears of its end: the event of its final status, once per run.
    if (own) candidates.push({ type: own, callback: isTerminal(task.status), data: () => this.taskData(task) });
    const declared = task.status === 'completed' ? this.registry.get(task.type)?.completedEvent : undefined;
    if (declared) candidates.push({ type: declared.type, callback: false, data: (manager) => declared.data(task, manager) });
    if (isTerminal(task.status) && task.rootId === task.id) {
      candidates.push({
        type: FLOW_COMPLETED,
        callback: false,
        data: async (manager) => ({ ...this.taskData(task), nodes: await flowNodeCounts(manager, task) }),
      });
    }
    return candidates;
  }

  /** The task as the API shows it; over WEBHOOK_MAX_PAYLOAD_BYTES, without payload and result (fetch it by id). */
  private taskData(task: TaskEntity): { task: unknown; omitted?: string[]; href?: string } {
    const view = toTaskView(task);
    const data = { task: view };
    if (Buffer.byteLength(JSON.stringify(data)) <= this.config.webhooks.maxPayloadBytes - 256) return data;
    return { task: { ...view, payload: null, result: null }, omitted: ['payload', 'result'], href: `/v1/tasks/${task.id}` };
  }
}
