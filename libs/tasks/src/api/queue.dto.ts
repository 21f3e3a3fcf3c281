import { IsInt, IsObject, IsOptional, Max, Min } from 'class-validator';
import { NestedDto } from '@conveyor/http';
import { MAX_QUEUE_CONCURRENCY, MAX_RATE_LIMIT, MAX_RATE_WINDOW_MS, MIN_RATE_WINDOW_MS } from '../queue-settings/queue-settings';

/** A global rate limit: at most `max` tasks of the queue start per `durationMs`, across every worker. */
export class QueueRateLimitDto {
  @IsInt()
  @Min(1)
  @Max(MAX_RATE_LIMIT)
  max: number;

  @IsInt()
  @Min(MIN_RATE_WINDOW_MS)
  @Max(MAX_RATE_WINDOW_MS)
  durationMs: number;
}

/** Body of `PATCH /v1/queues/:name`: a field left out stays as it is, `null` removes the override. */
export class UpdateQueueDto {
  /** Tasks each worker process runs at once from this queue (1 … 1000); null: back to WORKER_CONCURRENCY. */
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_QUEUE_CONCURRENCY)
  concurrency?: number | null;

  /** null removes the limit. */
  @IsOptional()
  @IsObject()
  @NestedDto(() => QueueRateLimitDto, {})
  rateLimit?: QueueRateLimitDto | null;
}

export class QueueRateLimitView {
  max: number;
  durationMs: number;
}

/** The stored runtime settings of a queue. */
export class QueueSettingsView {
  /** Overrides every worker's WORKER_CONCURRENCY for this queue; null: each worker's own. */
  concurrency: number | null;
  /** The queue's global rate limit as BullMQ applies it; null: none. */
  rateLimit: QueueRateLimitView | null;
  /** Grows with every change; compare with each worker's `version`. */
  version: number;
  updatedAt: string | null;
}

/** What one worker process applied, as it last reported it (every few seconds). */
export class QueueWorkerSettingsView {
  workerId: string;
  concurrency: number;
  rateLimit: QueueRateLimitView | null;
  /** The settings version it applied. */
  version: number;
  reportedAt: string;
}

/** `GET /v1/queues/:name`: depth, pause, and the settings stored and applied per worker. */
export class QueueDetailView {
  name: string;
  paused: boolean;
  /** Workers connected to the queue, as BullMQ counts them. */
  workers: number;
  /** Jobs per state. */
  counts: Record<string, number>;
  taskTypes: string[];
  settings: QueueSettingsView;
  workerSettings: QueueWorkerSettingsView[];
}
