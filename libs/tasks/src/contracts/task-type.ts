import type { Type } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AppConfig } from '@conveyor/config';
import type { TaskEntity } from '../ledger/task.entity';
import type { PipelineRole } from '../pipeline/pipeline';

export interface BackoffPolicy {
  type: 'exponential' | 'fixed';
  /** Base delay: the first retry waits about this long, exponential doubles it each time. */
  delayMs: number;
  /** 0..1: share of each delay that is randomised, so retries of a burst spread out. */
  jitter: number;
}

export interface TaskTypeDefaults {
  /** 1 (highest) … 10 (lowest); FIFO within a priority. */
  priority: number;
  /** Total attempts including the first; falls back to MAX_RETRY_ATTEMPTS. */
  maxAttempts?: number;
  backoff: BackoffPolicy;
  /** Per-attempt time limit; falls back to TASK_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Largest accepted payload, as JSON bytes: jobs live in Redis memory, so keep them small. */
  maxPayloadBytes: number;
}

/**
 * A schedule declared in code next to its task type. It belongs to the system tenant and is
 * reconciled at boot by each process that runs the scheduler: added, changed or removed by `id`.
 */
export interface DeclaredSchedule {
  /** Unique within the task type; stored as "<type>:<id>". */
  id: string;
  /** 5 or 6 fields (seconds first when 6); exactly one of `cron` and `everyMs`. */
  cron?: string;
  /** A number, or read from the process's config at boot; 0 from config turns the schedule off (not declared). */
  everyMs?: number | ((config: AppConfig) => number);
  /** IANA zone the cron is read in; UTC when absent. */
  timezone?: string;
  payload: Record<string, unknown>;
  overlap?: 'allow' | 'skip' | 'queue-one';
  missed?: 'skip' | 'run-once' | 'catch-up';
}

/**
 * An event of the type's own domain, sent (by the webhooks) when a task of it completes, in the
 * transaction of that completion and besides `task.completed`: e.g. `export.completed` with the
 * export's view. `data` reads the completed row, and may read more in the completion's
 * transaction (`manager`); it must not write (a re-run of the task calls it again, and the
 * outbox then keeps the first event).
 */
export interface CompletedEvent {
  /** `<domain>.<event>`; endpoints subscribe to it by name or family (`export.*`). */
  readonly type: string;
  data(task: TaskEntity, manager: EntityManager): unknown;
}

/**
 * A task type, declared once in its domain's contract file. Producer (API) and processor
 * (worker) both import the same object, so the type name and queue are spelled only there.
 * `R` is carried only in the type system, so handlers and clients agree on the result shape.
 */
export interface TaskTypeDefinition<P extends object = object, R = unknown> {
  readonly type: string;
  /** A stored name: renaming a queue strands its jobs in Redis, so treat it like a migration. */
  readonly queue: string;
  readonly description: string;
  readonly payload: Type<P>;
  readonly defaults: TaskTypeDefaults;
  /** The task types this type's handler may create as follow-ups (`context.enqueue`). */
  readonly followUps: readonly TaskTypeDefinition[];
  /** Schedules that run this type for the system tenant (see DeclaredSchedule). */
  readonly schedules: readonly DeclaredSchedule[];
  /** Only the system tenant's schedules create it: a tenant's request names it in vain (unknown type). */
  readonly systemOnly: boolean;
  /** Its part in pipelines (`then` steps): what it takes as a step, what it hands on. */
  readonly pipeline: PipelineRole<P, R>;
  /** The domain event its completion makes, if any (see CompletedEvent). */
  readonly completedEvent?: CompletedEvent;
  /** Phantom field for the result type; never set at run time. */
  readonly __result?: R;
}

export type PayloadOf<T> = T extends TaskTypeDefinition<infer P, unknown> ? P : never;
export type ResultOf<T> = T extends TaskTypeDefinition<object, infer R> ? R : never;

export const DEFAULT_BACKOFF: BackoffPolicy = { type: 'exponential', delayMs: 1000, jitter: 0.5 };
export const DEFAULT_PRIORITY = 5;
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;

const TYPE_NAME = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

export function defineTaskType<P extends object, R>(definition: {
  type: string;
  queue: string;
  description: string;
  payload: Type<P>;
  defaults?: Partial<TaskTypeDefaults>;
  /** The types its handler may enqueue as follow-ups; any other is refused at run time. */
  followUps?: readonly TaskTypeDefinition[];
  schedules?: Array<DeclaredSchedule & { payload: P & Record<string, unknown> }>;
  systemOnly?: boolean;
  /** Declares the type a pipeline step (`takes`) and/or what it hands on to the next one (`handsOn`). */
  pipeline?: PipelineRole<P, R>;
  completedEvent?: CompletedEvent;
}): TaskTypeDefinition<P, R> {
  if (!TYPE_NAME.test(definition.type)) {
    throw new Error(`Task type "${definition.type}" must look like "domain.action" (lowercase, dot-separated)`);
  }
  return Object.freeze({
    type: definition.type,
    queue: definition.queue,
    description: definition.description,
    payload: definition.payload,
    defaults: {
      priority: definition.defaults?.priority ?? DEFAULT_PRIORITY,
      maxAttempts: definition.defaults?.maxAttempts,
      backoff: { ...DEFAULT_BACKOFF, ...definition.defaults?.backoff },
      timeoutMs: definition.defaults?.timeoutMs,
      maxPayloadBytes: definition.defaults?.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    },
    followUps: Object.freeze([...(definition.followUps ?? [])]),
    schedules: Object.freeze([...(definition.schedules ?? [])]),
    systemOnly: definition.systemOnly ?? false,
    pipeline: Object.freeze({ ...definition.pipeline }),
    ...(definition.completedEvent ? { completedEvent: Object.freeze({ ...definition.completedEvent }) } : {}),
  });
}
