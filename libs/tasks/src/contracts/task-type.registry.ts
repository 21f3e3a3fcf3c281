import { Injectable } from '@nestjs/common';
import type { TaskTypeDefinition } from './task-type';

/** Every task type the process knows, filled by each domain's `TaskContractsModule.forFeature`. */
@Injectable()
export class TaskTypeRegistry {
  private readonly types = new Map<string, TaskTypeDefinition>();

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

  all(): TaskTypeDefinition[] {
    return [...this.types.values()].sort((a, b) => a.type.localeCompare(b.type));
  }

  queues(): string[] {
    return [...new Set([...this.types.values()].map((t) => t.queue))].sort();
  }
}
