import { Injectable } from '@nestjs/common';
import type { TaskTypeDefinition } from '../contracts/task-type';
import type { TaskOrigin, TaskRequest } from '../intake/task-request';
import type { TaskEntity } from '../ledger/task.entity';
import { TaskProducer } from './task-producer.service';

/** Options of an in-process enqueue: the tenant, the task options of `POST /v1/tasks`, and its origin. */
export type EnqueueOptions = Omit<TaskRequest, 'type' | 'payload'> & { tenantId: string; origin?: TaskOrigin };

export interface EnqueuedTask {
  task: TaskEntity;
  /** False when an idempotency key or client id returned the task created earlier. */
  created: boolean;
}

/**
 * The typed producer for domain code: `tasks.enqueue(EXPORT_CREATE, payload, { tenantId })`
 * takes only the payload type of the definition's contract. It goes through TaskProducer like
 * `POST /v1/tasks` (same validation, idempotency, ledger row and job), so there is one enqueue path.
 */
@Injectable()
export class Tasks {
  constructor(private readonly producer: TaskProducer) {}

  async enqueue<P extends object, R>(definition: TaskTypeDefinition<P, R>, payload: NoInfer<P>, options: EnqueueOptions): Promise<EnqueuedTask> {
    const { tenantId, origin, ...taskOptions } = options;
    // Checked again against the contract's schema by TaskFactory, as any request is.
    const request = { ...taskOptions, type: definition.type, payload: payload as unknown as Record<string, unknown> };
    const { tasks, created } = await this.producer.enqueue(tenantId, [request], origin);
    return { task: tasks[0], created: created[0] };
  }
}
