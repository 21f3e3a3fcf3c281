import { Injectable } from '@nestjs/common';
import { SYSTEM_TENANT } from '@conveyor/http';
import type { TaskTypeDefinition } from './task-type';

/** Every task type the process knows, filled by each domain's `TaskContractsModule.forFeature`. */
@Injectable()
export class TaskTypeRegistry {
  private readonly types = new Map<string, TaskTypeDefinition>();
  /** Queues a lib consumes with its own processor, not task handlers (e.g. `webhooks`). */
  private readonly ownQueues = new Set<string>();

  register(definitions: readonly TaskTypeDefinition[]): void {
    for (const definition of definitions) {
      const existing = this.types.get(definition.type);
      if (existing && existing !== definition) {
        throw new Error(`Task type "${definition.type}" is declared twice`);
      }
      this.types.set(definition.type, definition);
    }
  }

  get(type: string): TaskTypeDefinition | undefined {
    return this.types.get(type);
  }

  /** The type as `tenantId` may create it: a system-only type is unknown to every other tenant. */
  visibleTo(tenantId: string, type: string): TaskTypeDefinition | undefined {
    const definition = this.types.get(type);
    return definition?.systemOnly && tenantId !== SYSTEM_TENANT ? undefined : definition;
  }

  /** Every type, or those `tenantId` may create. */
  all(tenantId?: string): TaskTypeDefinition[] {
    const types = [...this.types.values()].filter((t) => tenantId === undefined || !t.systemOnly || tenantId === SYSTEM_TENANT);
    return types.sort((a, b) => a.type.localeCompare(b.type));
  }

  /** The domain event types that completions of the registered types make (see CompletedEvent). */
  completedEventTypes(): string[] {
    return [...new Set([...this.types.values()].flatMap((t) => (t.completedEvent ? [t.completedEvent.type] : [])))].sort();
  }

  queues(): string[] {
    return [...new Set([...this.types.values()].map((t) => t.queue))].sort();
  }

  /** Declares a queue a lib consumes itself, so WORKER_QUEUES may name it. */
  registerOwnQueue(name: string): void {
    this.ownQueues.add(name);
  }

  ownQueueNames(): string[] {
    return [...this.ownQueues].sort();
  }
}
