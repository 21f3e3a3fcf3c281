import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { TaskMetrics } from '@conveyor/observability';
import { TaskTypeRegistry } from '../contracts/task-type.registry';
import { JobRelay } from '../intake/job-relay';

/**
 * The queue gauges alerts watch besides depth, read from Redis at scrape time by the API:
 * `conveyor_queue_workers` (BullMQ workers connected to each queue, every process counted) and
 * `conveyor_queue_oldest_waiting_seconds` (how long the job a worker would take next has been
 * ready: it grows when nothing consumes the queue or consumers fall behind).
 */
@Injectable()
export class QueueGauges implements OnModuleInit {
  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly relay: JobRelay,
    private readonly metrics: TaskMetrics,
  ) {}

  onModuleInit(): void {
    this.metrics.onQueueDepthScrape(() =>
      Promise.all(
        this.registry.queues().map(async (name) => {
          const queue = this.relay.queue(name);
          const [workers, oldestWaitingSeconds] = await Promise.all([queue.getWorkersCount(), nextJobWaitSeconds(queue)]);
          return { queue: name, workers, oldestWaitingSeconds };
        }),
      ),
    );
  }
}

/**
 * Seconds the next job (the oldest of the plain wait list, the head of the prioritized set)
 * has been ready to run: since it was added, since its delay ended, or (a retry) no earlier
 * than its last attempt started. 0 when none waits.
 */
export async function nextJobWaitSeconds(queue: Queue, now = Date.now()): Promise<number> {
  const heads = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 0, true)]);
  const readySince = heads.flat().map((job: Job | undefined) => (job ? Math.max(job.timestamp + (job.delay ?? 0), job.processedOn ?? 0) : now));
  return readySince.length === 0 ? 0 : Math.max(0, (now - Math.min(...readySince)) / 1000);
}
