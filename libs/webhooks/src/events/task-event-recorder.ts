import { Inject, Injectable } from '@nestjs/common';
import { In, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { TaskEntity, toTaskView, type TaskStatus, type TaskTransition, type TaskTransitionHooks } from '@conveyor/tasks';
import { insertIgnoringDuplicates } from '../store/insert-ignoring-duplicates';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { TASK_EVENT_TYPES } from '../webhooks.contract';
import { deliveryRow, eventId, eventRow } from './outbox-rows';
import { matching, SubscriptionCache } from './subscription-cache';

const eventTypeOf = (status: TaskStatus): string | undefined => (TASK_EVENT_TYPES as Partial<Record<TaskStatus, string>>)[status];

/**
 * Which transition an event is about, for its id. A `retrying` is one failed attempt. A final
 * status is one per run: a run keeps its `maxAttempts` (only a manual retry raises it), while
 * its attempt count grows when a worker dies after the commit and the job runs again — that
 * re-run writes the same status again and must not make a second event.
 */
function transitionKey(task: TaskEntity, eventType: string): string {
  return task.status === 'retrying' ? `${task.id}:${eventType}:attempt:${task.attempts}` : `${task.id}:${eventType}:run:${task.maxAttempts}`;
}

/**
 * The webhooks' task transition hook: writes the outbox (event + one delivery per endpoint
 * that wants it) inside the transaction of the state change, so both commit or neither does.
 */
@Injectable()
export class TaskEventRecorder implements TaskTransitionHooks {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly subscriptions: SubscriptionCache,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  wants(transition: TaskTransition): boolean {
    const eventType = eventTypeOf(transition.status);
    return eventType !== undefined && this.subscriptions.mayWant({ tenantId: transition.tenantId, eventType, taskType: transition.type });
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
      const eventType = eventTypeOf(task.status)!;
      const targets = matching(subscriptions, { tenantId: task.tenantId, eventType, taskType: task.type, tags: task.tags }, at);
      if (targets.length === 0) continue;
      const event = eventRow({
        id: eventId(transitionKey(task, eventType)),
        tenantId: task.tenantId,
        type: eventType,
        taskId: task.id,
        at,
        data: this.taskData(task),
      });
      events.push(event);
      for (const target of targets) deliveries.push(deliveryRow(event, target.id, at));
    }
    await insertIgnoringDuplicates(manager, WebhookEventEntity, events);
    await insertIgnoringDuplicates(manager, WebhookDeliveryEntity, deliveries);
  }

  /** The task as the API shows it; over WEBHOOK_MAX_PAYLOAD_BYTES, without payload and result (fetch it by id). */
  private taskData(task: TaskEntity): unknown {
    const view = toTaskView(task);
    const data = { task: view };
    if (Buffer.byteLength(JSON.stringify(data)) <= this.config.webhooks.maxPayloadBytes - 256) return data;
    return { task: { ...view, payload: null, result: null }, omitted: ['payload', 'result'], href: `/v1/tasks/${task.id}` };
  }
}
