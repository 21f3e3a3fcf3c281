import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';
import { JobRelay } from '../intake/job-relay';
import {
  parseStoredSettings,
  patchFields,
  queueSettingsChannel,
  queueSettingsKey,
  queueWorkersKey,
  REPORT_STALE_MS,
  type AppliedQueueSettings,
  type QueueRateLimit,
  type QueueSettingsPatch,
  type StoredQueueSettings,
} from './queue-settings';

/**
 * The one owner of the settings a queue runs with: the overrides stored in Redis, the
 * deployment's config under them (WORKER_CONCURRENCY), BullMQ's pause flag and global rate
 * limit (both kept by BullMQ in the queue's own keys, read by every worker's fetch), and the
 * reports of what each worker applied. The API writes through it, workers read through it.
 */
@Injectable()
export class QueueSettingsStore implements OnApplicationShutdown {
  private client?: RedisClient;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly relay: JobRelay,
  ) {}

  async read(queue: string): Promise<StoredQueueSettings> {
    return parseStoredSettings(await this.redis().hgetall(queueSettingsKey(this.config.queuePrefix, queue)));
  }

  /**
   * Stores a change (one MULTI: fields and version together), applies the rate limit to BullMQ,
   * then tells the workers. Should this process stop between the two writes, workers find the
   * stored limit differing from BullMQ's on their next refresh and apply it (see syncRateLimit).
   */
  async update(queue: string, patch: QueueSettingsPatch): Promise<StoredQueueSettings> {
    const key = queueSettingsKey(this.config.queuePrefix, queue);
    const { set, remove } = patchFields(patch);
    const multi = this.redis().multi();
    if (remove.length > 0) multi.hdel(key, ...remove);
    multi.hset(key, { ...set, updatedAt: new Date().toISOString() });
    multi.hincrby(key, 'version', 1);
    multi.hgetall(key);
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error('queue settings transaction aborted');
    const stored = parseStoredSettings(results[results.length - 1][1] as Record<string, string>);
    if (patch.rateLimit !== undefined) await this.syncRateLimit(queue, stored.rateLimit);
    await this.redis().publish(queueSettingsChannel(this.config.queuePrefix), queue);
    return stored;
  }

  /** BullMQ's global rate limit of the queue (null: none). */
  async effectiveRateLimit(queue: string): Promise<QueueRateLimit | null> {
    const limit = await this.relay.queue(queue).getGlobalRateLimit();
    return limit ? { max: limit.max, durationMs: limit.duration } : null;
  }

  /** Makes BullMQ's global rate limit the stored one; true when it had to change it. */
  async syncRateLimit(queue: string, wanted: QueueRateLimit | null): Promise<boolean> {
    const current = await this.effectiveRateLimit(queue);
    if (current?.max === wanted?.max && current?.durationMs === wanted?.durationMs) return false;
    const bullQueue = this.relay.queue(queue);
    if (wanted) await bullQueue.setGlobalRateLimit(wanted.max, wanted.durationMs);
    else await bullQueue.removeGlobalRateLimit();
    return true;
  }

  /** Pauses or resumes the queue for every worker: BullMQ's queue-level pause, kept in Redis. */
  async setPaused(queue: string, paused: boolean): Promise<void> {
    const bullQueue = this.relay.queue(queue);
    if (paused) await bullQueue.pause();
    else await bullQueue.resume();
  }

  isPaused(queue: string): Promise<boolean> {
    return this.relay.queue(queue).isPaused();
  }

  /** A worker's report of what it applied; renewed on every refresh. */
  async report(queue: string, applied: AppliedQueueSettings): Promise<void> {
    await this.redis().hset(queueWorkersKey(this.config.queuePrefix, queue), applied.workerId, JSON.stringify(applied));
  }

  async withdraw(queue: string, workerId: string): Promise<void> {
    await this.redis().hdel(queueWorkersKey(this.config.queuePrefix, queue), workerId);
  }

  /** The live workers' reports, by worker id; reports of workers gone silent are dropped. */
  async reports(queue: string): Promise<AppliedQueueSettings[]> {
    const key = queueWorkersKey(this.config.queuePrefix, queue);
    const now = Date.now();
    const live: AppliedQueueSettings[] = [];
    const stale: string[] = [];
    for (const [workerId, text] of Object.entries(await this.redis().hgetall(key))) {
      let report: AppliedQueueSettings | undefined;
      try {
        report = JSON.parse(text) as AppliedQueueSettings;
      } catch {
        // unreadable: treated as stale
      }
      if (report && now - Date.parse(report.reportedAt) <= REPORT_STALE_MS) live.push(report);
      else stale.push(workerId);
    }
    if (stale.length > 0) await this.redis().hdel(key, ...stale);
    return live.sort((a, b) => a.workerId.localeCompare(b.workerId));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.quit().catch(() => undefined);
  }

  /**
   * Its own connection, opened on first use (a process that never touches settings opens none).
   * Commands sent while it connects wait for it, within the producer's command timeout.
   */
  private redis(): RedisClient {
    this.client ??= createRedisClient(this.config.redis, 'producer', { enableOfflineQueue: true, connectionName: 'conveyor:queue-settings' });
    return this.client;
  }
}
