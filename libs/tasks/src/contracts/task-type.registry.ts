import { Injectable } from '@nestjs/common';
import { SYSTEM_TENANT } from '@conveyor/http';
import type { TaskTypeDefinition } from './task-type';

/**
 * Every task type the process knows, filled by each domain's `TaskContractsModule.forFeature`.
 * It holds the types as this deployment runs them: a contract's queue renamed by config
 * (`queueNames`) is replaced by its stored name, so whatever reads a type from here (producer,
 * worker, API) sees the name used in Redis and the ledger.
 */
@Injectable()
export class TaskTypeRegistry {
  private readonly types = new Map<string, TaskTypeDefinition>();
  /** The contract's own object of each type, to tell a second declaration from the same one. */
  private readonly declared = new Map<string, TaskTypeDefinition>();
  /** Queues a lib consumes with its own processor, not task handlers (e.g. `webhooks`). */
  private readonly ownQueues = new Set<string>();

  /** `queueNames`: contract queue name → stored name, for the queues this deployment renames. */
  constructor(private readonly queueNames: Readonly<Record<string, string>> = {}) {}

  register(definitions: readonly TaskTypeDefinition[]): void {
    for (const definition of definitions) {
      const existing = this.declared.get(definition.type);
      if (existing && existing !== definition) {
        throw new Error(`Task type "${definition.type}" is declared twice`);
      }
      this.declared.set(definition.type, definition);
      const queue = this.storedQueueName(definition.queue);
      this.types.set(definition.type, queue === definition.queue ? definition : Object.freeze({ ...definition, queue }));
    }
  }

  /** The name a contract's queue has in Redis and the ledger in this deployment. */
  storedQueueName(contractQueue: string): string {
    return this.queueNames[contractQueue] ?? contractQueue;
  }

  /** The contract's name of a stored queue (the token its BullMQ queue is registered under). */
  contractQueueName(storedQueue: string): string {
    return Object.keys(this.queueNames).find((name) => this.queueNames[name] === storedQueue) ?? storedQueue;
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
