/**
 * The settings a queue runs with, changed at runtime by `PATCH /v1/queues/:name`. Overrides are
 * stored in Redis next to the queue (one hash per queue under the deployment's prefix), so they
 * live and die with the queue they describe, need no migration and reach every process that can
 * reach the queue. Workers hear of a change on one pub/sub channel, re-read on a timer and after
 * a reconnect (a missed message converges), and report what they applied.
 */

/** Global limit of the queue across every worker: at most `max` tasks started per `durationMs`. */
export interface QueueRateLimit {
  max: number;
  durationMs: number;
}

/** What `PATCH /v1/queues/:name` stored; `null` fields fall back to the deployment's config. */
export interface StoredQueueSettings {
  concurrency: number | null;
  rateLimit: QueueRateLimit | null;
  /** Grows with every change; workers report the version they applied. */
  version: number;
  updatedAt: string | null;
}

/** A change: a field left out stays as it is, `null` removes the override. */
export interface QueueSettingsPatch {
  concurrency?: number | null;
  rateLimit?: QueueRateLimit | null;
}

/** What one worker process applied to its BullMQ worker of a queue, as it reported it. */
export interface AppliedQueueSettings {
  workerId: string;
  concurrency: number;
  rateLimit: QueueRateLimit | null;
  version: number;
  reportedAt: string;
}

/** Highest concurrency one worker process may run a queue with. */
export const MAX_QUEUE_CONCURRENCY = 1000;
/** Rate limits: at most this many per window, windows from 10 ms to one day. */
export const MAX_RATE_LIMIT = 1_000_000;
export const MIN_RATE_WINDOW_MS = 10;
export const MAX_RATE_WINDOW_MS = 86_400_000;

/** How often a worker re-reads its queues' settings and renews its report. */
export const SETTINGS_REFRESH_MS = 5000;
/** A report older than this belongs to a worker that is gone; it is dropped when read. */
export const REPORT_STALE_MS = 4 * SETTINGS_REFRESH_MS;

export function queueSettingsKey(prefix: string, queue: string): string {
  return `${prefix}:conveyor:queue-settings:${queue}`;
}

export function queueWorkersKey(prefix: string, queue: string): string {
  return `${prefix}:conveyor:queue-workers:${queue}`;
}

/** Carries the name of a queue whose settings changed. One channel per prefix. */
export function queueSettingsChannel(prefix: string): string {
  return `${prefix}:conveyor:queue-settings`;
}

/** Reads the stored hash (field → string) into settings; unknown or broken fields count as absent. */
export function parseStoredSettings(hash: Record<string, string>): StoredQueueSettings {
  const number = (field: string) => {
    const value = Number(hash[field]);
    return hash[field] !== undefined && Number.isInteger(value) && value > 0 ? value : null;
  };
  const max = number('rateLimitMax');
  const durationMs = number('rateLimitDurationMs');
  return {
    concurrency: number('concurrency'),
    rateLimit: max !== null && durationMs !== null ? { max, durationMs } : null,
    version: number('version') ?? 0,
    updatedAt: hash.updatedAt ?? null,
  };
}

/** The hash writes of a patch: fields to set and fields to delete. */
export function patchFields(patch: QueueSettingsPatch): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  if (patch.concurrency === null) remove.push('concurrency');
  else if (patch.concurrency !== undefined) set.concurrency = String(patch.concurrency);
  if (patch.rateLimit === null) remove.push('rateLimitMax', 'rateLimitDurationMs');
  else if (patch.rateLimit !== undefined) {
    set.rateLimitMax = String(patch.rateLimit.max);
    set.rateLimitDurationMs = String(patch.rateLimit.durationMs);
  }
  return { set, remove };
}
