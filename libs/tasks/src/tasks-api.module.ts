import { Module } from '@nestjs/common';
import { QueueInspector } from './api/queue-inspector.service';
import { QueuesController } from './api/queues.controller';
import { TaskProducer } from './api/task-producer.service';
import { TaskTypesController } from './api/task-types.controller';
import { TasksController } from './api/tasks.controller';

/** The HTTP task API: enqueue, read, list, queues, task types. Never imported by the worker. */
@Module({
  controllers: [TasksController, QueuesController, TaskTypesController],
  providers: [TaskProducer, QueueInspector],
  exports: [TaskProducer, QueueInspector],
})
export class TasksApiModule {}
