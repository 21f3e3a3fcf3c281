import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { TaskTypeRegistry } from '../contracts/task-type.registry';

/**
 * The BullMQ queues of every task type this process registers (the BullModule ones, on the
 * producer connection that fails fast when Redis is away), for jobs that work on any queue's
 * tasks rather than consume one.
 */
@Injectable()
export class RegisteredQueues {
  private readonly cache = new Map<string, Queue>();

  constructor(
    private readonly registry: TaskTypeRegistry,
    private readonly moduleRef: ModuleRef,
  ) {}

  names(): string[] {
    return this.registry.queues();
  }

  /** By stored name; undefined for a queue no contract of this process registers (e.g. a newer deployment's). */
  get(name: string): Queue | undefined {
    if (!this.names().includes(name)) return undefined;
    let queue = this.cache.get(name);
    if (!queue) {
      queue = this.moduleRef.get<Queue>(getQueueToken(this.registry.contractQueueName(name)), { strict: false });
      this.cache.set(name, queue);
    }
    return queue;
  }
}
