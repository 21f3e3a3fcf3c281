import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import type { TaskJob } from '../task-job';
import { FAIR_PRIORITY_SCRIPT } from './fair-priority';
import { QueueScript } from './queue-script';

const SCRIPT = new QueueScript('conveyorFairPriority', FAIR_PRIORITY_SCRIPT, 5);

/** Keys the fairness layer adds under a queue's own key prefix (so they share its hash tag). */
export const FAIRNESS_KEYS = { state: 'fair:state', clocks: 'fair:clocks', caps: 'fair:caps', running: 'fair:running:' } as const;

/**
 * The producer side of fairness: just before jobs go to BullMQ, each gets the priority that
 * places it fairly between tenants (see FAIR_PRIORITY_SCRIPT): one script call per add. With
 * FAIRNESS=off, jobs keep their task priority.
 */
@Injectable()
export class FairOrdering {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  get enabled(): boolean {
    return this.config.fairness.enabled;
  }

  /** The jobs with fair priorities, in order (copies; the input is left as it is). */
  async order(queue: Queue, jobs: TaskJob[]): Promise<TaskJob[]> {
    if (!this.enabled || jobs.length === 0) return jobs;
    const args = jobs.flatMap((job) => [job.data.tenantId, taskPriority(job)]);
    const priorities = (await SCRIPT.run(queue, [
      queue.keys.prioritized,
      queue.keys.delayed,
      queue.keys.active,
      queue.toKey(FAIRNESS_KEYS.state),
      queue.toKey(FAIRNESS_KEYS.clocks),
      queue.toKey(''),
      ...args,
    ])) as number[];
    return jobs.map((job, index) => ({ ...job, opts: { ...job.opts, priority: priorities[index] } }));
  }
}

/** The task's own priority (1–10); jobs made without one count as the default level 5. */
function taskPriority(job: TaskJob): number {
  const priority = job.opts.priority;
  return typeof priority === 'number' && priority >= 1 && priority <= 10 ? priority : 5;
}
