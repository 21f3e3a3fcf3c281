import type { TaskStatus } from '@conveyor/tasks';

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

/** Every event type an endpoint may subscribe to; `ping` is sent on request only. */
export const EVENT_TYPES: readonly string[] = [...Object.values(TASK_EVENT_TYPES), 'ping'];

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
