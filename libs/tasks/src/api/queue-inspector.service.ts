import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ApiError } from '@conveyor/http';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { JobRelay } from '../intake/job-relay';

export const JOB_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children'] as const;

/** Queue depth per state, for `GET /v1/queues` and the `conveyor_queue_jobs` gauge. */
@Injectable()
export class QueueInspector implements OnModuleInit {
  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly relay: JobRelay,
    private readonly metrics: TaskMetrics,
  ) {}

  onModuleInit(): void {
    this.metrics.onQueueDepthScrape(() => Promise.all(this.registry.queues().map(async (queue) => ({ queue, counts: await this.counts(queue) }))));
  }

  async describeAll() {
    try {
      return await Promise.all(
        this.registry.queues().map(async (name) => {
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
        }),
      );
    } catch {
      throw ApiError.unavailable('QUEUE_UNAVAILABLE', 'Redis is unavailable');
    }
  }

  private counts(name: string): Promise<Record<string, number>> {
    return this.relay.queue(name).getJobCounts(...JOB_STATES);
  }
}
