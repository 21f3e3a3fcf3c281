import { Module, type DynamicModule } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import type { TaskTypeDefinition } from './contracts/task-type';
import { TaskTypeRegistry } from './contracts/task-type.registry';

/**
 * Registers a domain's task types and their queues. Each domain's API and worker modules
 * import `TaskContractsModule.forFeature(<the types of its contract file>)`; the queues are
 * then injectable with `@InjectQueue(<contract's queue name>)`. A queue the deployment renames
 * (config `queueNames`) keeps its contract name as token and runs under its stored name.
 */
@Module({})
export class TaskContractsModule {
  static forFeature(definitions: readonly TaskTypeDefinition[]): DynamicModule {
    const queues = [...new Set(definitions.map((d) => d.queue))];
    const registration = Symbol(`task-contracts:${definitions.map((d) => d.type).join(',')}`);
    return {
      module: TaskContractsModule,
      imports: [
        BullModule.registerQueueAsync(
          ...queues.map((name) => ({
            name,
            useFactory: (registry: TaskTypeRegistry) => ({ name: registry.storedQueueName(name) }),
            inject: [TaskTypeRegistry],
          })),
        ),
      ],
      providers: [
        {
          provide: registration,
          useFactory: (registry: TaskTypeRegistry) => registry.register(definitions),
          inject: [TaskTypeRegistry],
        },
      ],
      exports: [BullModule],
    };
  }
}
