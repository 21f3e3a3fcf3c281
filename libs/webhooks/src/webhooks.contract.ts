import { IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { SYSTEM_QUEUE } from '@conveyor/system-tasks';
import { defineTaskType, type TaskEntity, type TaskStatus } from '@conveyor/tasks';

/** The BullMQ queue deliveries run on. A stored name: renaming it strands jobs (treat it like a migration). */
export const WEBHOOKS_QUEUE = 'webhooks';

/** Task statuses that make an event, and the event each makes. */
export const TASK_EVENT_TYPES = {
  completed: 'task.completed',
  failed: 'task.failed',
  cancelled: 'task.cancelled',
  expired: 'task.expired',
  retrying: 'task.retrying',
} as const satisfies Partial<Record<TaskStatus, string>>;

export type TaskEventType = (typeof TASK_EVENT_TYPES)[keyof typeof TASK_EVENT_TYPES];

/** A flow's root reached a terminal state: `{task: <the root>, nodes: {total, byStatus}}`. */
export const FLOW_COMPLETED = 'flow.completed';

/**
 * The event types of this lib an endpoint may subscribe to; `ping` is sent on request only.
 * Task types add their own domain events (`completedEvent` in their contracts: `export.completed`,
 * `file.cleaned`, `pipeline.completed`), known from the task type registry.
 */
export const EVENT_TYPES: readonly string[] = [...Object.values(TASK_EVENT_TYPES), FLOW_COMPLETED, 'ping'];

/** The body of every delivery (Standard Webhooks' recommended shape). */
export interface WebhookEventBody<T = unknown> {
  /** Same as the `webhook-id` header: receivers deduplicate on it. */
  id: string;
  type: string;
  timestamp: string;
  data: T;
}

/** A delivery job: the attempt the dispatcher claimed. The ledger row is the truth; the job only wakes a worker. */
export interface DeliveryJobData {
  deliveryId: string;
  /** Its endpoint: the concurrency slot is taken before anything is read. */
  endpointId: string;
  claim: string;
}

/**
 * Waits before attempts 1…8 of a round (Svix's schedule): at once, 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h, 10 h, about 27.6 h in all. Each wait but the first gets up to ±JITTER of itself.
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const RETRY_JITTER = 0.2;

export class AnnouncePayload {
  /** Sent with the event, for the receiver to tell announcements apart. */
  @IsOptional()
  @IsString()
  @MaxLength(500)
  message?: string;

  /** What is announced; as a pipeline step, the pipeline fills it with what the steps before handed on. */
  @IsOptional()
  @IsObject()
  input?: Record<string, unknown>;
}

export interface AnnounceResult {
  event: string;
  message: string | null;
  input: Record<string, unknown>;
}

/** The `pipeline.completed` event an announcement makes: what the chain handed on, and where it came from. */
function announcement(task: TaskEntity) {
  const payload = task.payload as AnnouncePayload;
  return { message: payload.message ?? null, input: payload.input ?? {}, taskId: task.id, rootId: task.rootId, tags: task.tags ?? [] };
}

/**
 * Announces to the tenant's endpoints, as a `pipeline.completed` event, what a pipeline produced
 * (`then: [..., {"type": "webhook.announce"}]`): the step's completion writes the event in its
 * own transaction, so it is sent once however often the step runs. The handler only returns
 * what it was given; the outbox does the rest.
 */
export const WEBHOOK_ANNOUNCE = defineTaskType<AnnouncePayload, AnnounceResult>({
  type: 'webhook.announce',
  queue: SYSTEM_QUEUE,
  description:
    "Sends a `pipeline.completed` webhook event with `input` (as a pipeline step: what the steps before handed on) and `message` to the tenant's endpoints.",
  payload: AnnouncePayload,
  defaults: { maxAttempts: 3 },
  pipeline: { takes: { input: '*' } },
  completedEvent: { type: 'pipeline.completed', data: announcement },
});

export const WEBHOOK_TASK_TYPES = [WEBHOOK_ANNOUNCE] as const;
