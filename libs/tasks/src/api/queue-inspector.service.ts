import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DomainError } from '@conveyor/errors';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { JobRelay } from '../intake/job-relay';
import { QueueSettingsStore } from '../queue-settings/queue-settings.store';
import type { QueueDetailView } from './queue.dto';

export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children'] as const;

/** Queue depth per state, for `GET /v1/queues` and the `conveyor_queue_jobs` gauge, and one queue's settings. */
@Injectable()
export class QueueInspector implements OnModuleInit {
  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly relay: JobRelay,
    private readonly metrics: TaskMetrics,
    private readonly settings: QueueSettingsStore,
  ) {}

  onModuleInit(): void {
    this.metrics.onQueueDepthScrape(() => Promise.all(this.registry.queues().map(async (queue) => ({ queue, counts: await this.counts(queue) }))));
  }

  async describeAll() {
    return this.available(() => Promise.all(this.registry.queues().map((name) => this.summary(name))));
  }

  /** One queue with its stored settings and what each live worker applied; 404 for a queue no task type uses. */
  async describe(name: string): Promise<QueueDetailView> {
    this.requireKnown(name);
    return this.available(async () => {
      const [summary, stored, rateLimit, workerSettings] = await Promise.all([
        this.summary(name),
        this.settings.read(name),
        this.settings.effectiveRateLimit(name),
        this.settings.reports(name),
      ]);
      return {
        ...summary,
        settings: { concurrency: stored.concurrency, rateLimit, version: stored.version, updatedAt: stored.updatedAt },
        workerSettings,
      };
    });
  }

  requireKnown(name: string): void {
    if (!this.registry.queues().includes(name)) throw DomainError.notFound('QUEUE_NOT_FOUND', `No task type uses a queue named "${name}"`);
  }

  /** Runs a Redis call; its failure is a 503 QUEUE_UNAVAILABLE. */
  async available<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof DomainError) throw error;
      throw DomainError.unavailable('QUEUE_UNAVAILABLE', 'Redis is unavailable');
    }
  }

  private async summary(name: string) {
    const queue = this.relay.queue(name);
    const [counts, paused, workers] = await Promise.all([this.counts(name), queue.isPaused(), queue.getWorkersCount()]);
    return {
      name,
      paused,
      workers,
      counts,
      taskTypes: this.registry
        .all()
        .filter((t) => t.queue === name)
        .map((t) => t.type),
    };
  }

  private counts(name: string): Promise<Record<string, number>> {
    return this.relay.queue(name).getJobCounts(...JOB_STATES);
  }
}
