import { Module } from '@nestjs/common';
import { TenantConcurrencyController } from '../fairness/tenant-concurrency.controller';
import { TenantConcurrencyService } from '../fairness/tenant-concurrency.service';
import { FlowsController } from './flows.controller';
import { FlowsService } from './flows.service';
import { MAINTENANCE_TASK_TYPES } from '../maintenance.contract';
import { TaskContractsModule } from '../task-contracts.module';
import { PipelinePlanner } from './pipeline-planner.service';
import { QueueGauges } from './queue-gauges';
import { QueueInspector } from './queue-inspector.service';
import { QueuesController } from './queues.controller';
import { TaskControlService } from './task-control.service';
import { TaskEventStreams } from './task-event-streams.service';
import { TaskProducer } from './task-producer.service';
import { Tasks } from './tasks.service';
import { TaskTypesController } from './task-types.controller';
import { TaskBulkController } from './task-bulk.controller';
import { TaskBulkService } from './task-bulk.service';
import { TaskCountsController } from './task-counts.controller';
import { TaskFlowController } from './task-flow.controller';
import { TasksController } from './tasks.controller';
import { TenantBacklog } from './tenant-backlog';
import { TaskLogReader } from '../task-logs/task-log-reader';

/**
 * The HTTP task API: enqueue, read, list, flows, queues, task types, tenants' caps. Never imported by the
 * worker. It knows the housekeeping types too, so that an API process running the scheduler
 * fires their ticks (no tenant may create them).
 */
@Module({
  imports: [TaskContractsModule.forFeature(MAINTENANCE_TASK_TYPES)],
  controllers: [
    TaskCountsController,
    TaskBulkController,
    TasksController,
    TaskFlowController,
    FlowsController,
    QueuesController,
    TaskTypesController,
    TenantConcurrencyController,
  ],
  providers: [
    TaskBulkService,
    TaskProducer,
    Tasks,
    PipelinePlanner,
    FlowsService,
    QueueInspector,
    QueueGauges,
    TaskControlService,
    TaskEventStreams,
    TenantBacklog,
    TaskLogReader,
    TenantConcurrencyService,
  ],
  exports: [TaskProducer, Tasks, PipelinePlanner, QueueInspector, TaskControlService],
})
export class TasksApiModule {}
