import { Module } from '@nestjs/common';
import { FlowsController } from './flows.controller';
import { FlowsService } from './flows.service';
import { PipelinePlanner } from './pipeline-planner.service';
import { QueueInspector } from './queue-inspector.service';
import { QueuesController } from './queues.controller';
import { TaskControlService } from './task-control.service';
import { TaskEventStreams } from './task-event-streams.service';
import { TaskProducer } from './task-producer.service';
import { TaskTypesController } from './task-types.controller';
import { TasksController } from './tasks.controller';
import { TenantBacklog } from './tenant-backlog';

/** The HTTP task API: enqueue, read, list, flows, queues, task types. Never imported by the worker. */
@Module({
  controllers: [TasksController, FlowsController, QueuesController, TaskTypesController],
  providers: [TaskProducer, PipelinePlanner, FlowsService, QueueInspector, TaskControlService, TaskEventStreams, TenantBacklog],
  exports: [TaskProducer, PipelinePlanner, QueueInspector, TaskControlService],
})
export class TasksApiModule {}
